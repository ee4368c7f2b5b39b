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
 * Starts a supervised local Jupyter server and a provider on it; closing the provider stops
 * it. When the server exits on its own (killed, crashed), its kernels' runs end at once as
 * kernel deaths, the server is started again (after 0.5 s, doubling up to 30 s while starts
 * fail) and the provider takes its kernels from the new one.
 */
export async function startLocalProvider(
  options: LocalProviderOptions = {},
): Promise<JupyterKernelProvider> {
  let server = await LocalJupyterServer.start(options);
  const { signal: _startSignal, ...restartOptions } = options;
  let closed = false;
  const provider = new JupyterKernelProvider(server.endpoint, {
    poolSize: options.poolSize,
    description: 'local Jupyter server',
    onClose: () => {
      closed = true;
      return server.close();
    },
  });
  const supervise = (watched: LocalJupyterServer): void => {
    watched.onExit((exit) => {
      const how =
        exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const reason = `the local Jupyter server ${how}; restarting it`;
      options.log?.('jupyter server lost', { how, log: exit.log });
      provider.serverLost(reason);
      void (async () => {
        for (let delayMs = 500; !closed; delayMs = Math.min(delayMs * 2, 30_000)) {
          await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
          if (closed) {
            return;
          }
          try {
            const next = await LocalJupyterServer.start(restartOptions);
            if (closed) {
              await next.close();
              return;
            }
            server = next;
            supervise(next);
            provider.serverRestored(next.endpoint);
            options.log?.('jupyter server restarted', { url: next.endpoint.baseUrl });
            return;
          } catch (err) {
            options.log?.('jupyter server restart failed', { error: (err as Error).message });
          }
        }
      })();
    });
  };
  supervise(server);
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
