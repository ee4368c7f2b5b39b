/**
 * The Jupyter-server providers nbstage makes: on a supervised local server (a private one for a
 * run), on the shared background server with its spare kernels, and on a remote server or
 * gateway named by URL.
 */
import { gatewayKernelEnv, SessionKernelIndex } from './gateway';
import { LocalJupyterServer, type LocalJupyterServerOptions } from './jupyter-server';
import { JupyterKernelProvider } from './provider';
import {
  connectSharedServer,
  defaultRuntimeDir,
  SpareKernels,
  type SharedServerOptions,
} from './shared-server';

/** Options of {@link startLocalProvider}. */
export interface LocalProviderOptions extends LocalJupyterServerOptions {
  poolSize?: number;
  /** Told when the server exits on its own and when it answers again. */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Starts a local Jupyter server (a private one, for one run) and a provider on it; closing the
 * provider stops it. When the server exits on its own (killed, crashed), its kernels' runs end
 * at once as kernel deaths, and the provider gives no more kernels: its owner is short-lived.
 */
export async function startLocalProvider(
  options: LocalProviderOptions = {},
): Promise<JupyterKernelProvider> {
  const server = await LocalJupyterServer.start(options);
  const provider = new JupyterKernelProvider(server.endpoint, {
    poolSize: options.poolSize,
    description: 'local Jupyter server',
    onClose: () => server.close(),
  });
  server.onExit((exit) => {
    const how = exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
    options.log?.('jupyter server lost', { how, log: exit.log });
    provider.serverLost(`the local Jupyter server ${how}`);
  });
  return provider;
}

/** A provider on the shared local server (started if needed), with spare kernels. */
export async function sharedLocalProvider(
  options: SharedServerOptions = {},
): Promise<JupyterKernelProvider> {
  const shared = await connectSharedServer(options);
  return new JupyterKernelProvider(shared.endpoint, {
    description: 'shared local Jupyter server',
    spares: new SpareKernels(shared.endpoint, `${shared.runtimeDir}/spares`),
  });
}

/**
 * A provider on a remote Jupyter server, Kernel Gateway or Enterprise Gateway (URL + token):
 * kernel starts carry the `KERNEL_*` variables of `env`, and sessions are kept by kernel id (in
 * the runtime folder) where the server has no sessions API.
 */
export function remoteProvider(
  url: string,
  token: string,
  options: { poolSize?: number; env?: NodeJS.ProcessEnv } = {},
): JupyterKernelProvider {
  const env = options.env ?? process.env;
  return new JupyterKernelProvider(
    { baseUrl: url, token },
    {
      poolSize: options.poolSize ?? 0,
      kernelEnv: gatewayKernelEnv(env),
      sessionIndex: new SessionKernelIndex(defaultRuntimeDir(env), url),
      description: `Jupyter server at ${new URL(url).origin}`,
    },
  );
}
