/**
 * The local run target (an embedded `nbstage run`): kernels nbstage launches itself and speaks
 * ZMQ to, or kernels on a Jupyter server this process reaches or starts. It owns the provider's
 * whole life: the start (begun when the target is made, so it overlaps reading and checking the
 * notebook), the prewarm of the kernels the run will ask for, the run itself, and the close, in
 * one `try/finally`.
 */
import { CancelledError, UsageError } from '../pipelines/errors';
import type { Notebook } from '../pipelines/notebook/model';
import type { RunTarget } from '../pipelines/run-target';
import { executeRun } from '../pipelines/runner';
import type { KernelProvider } from './provider';
import { remoteProvider, sharedLocalProvider, startLocalProvider } from './jupyter-providers';
import { takeEarlyLaunch } from './zmq/early-launch';
import { sandboxTransport, sandboxWanted, type SandboxBind, type SandboxMode } from './zmq/sandbox';
import { kernelStartTimeoutMs, ZmqKernelProvider } from './zmq/zmq-provider';

/** Where the local target gets its kernels. */
export interface LocalTargetOptions {
  /**
   * `NBSTAGE_JUPYTER_URL` (+ `NBSTAGE_JUPYTER_TOKEN`): that server; else `NBSTAGE_REUSE_SERVER=0`:
   * a private server for this run; else, for a session or with `NBSTAGE_REUSE_SERVER=1`, the
   * shared background server; else kernels launched directly.
   */
  env: NodeJS.ProcessEnv;
  /** Root of a private server, and where direct kernels start (the folder the run started in). */
  rootDir: string;
  /** Whether the run keeps its kernel in a session (only a server outlives this process). */
  session?: boolean;
  /** `--sandbox` (default off for an embedded run, as papermill behaves). */
  sandbox?: SandboxMode;
  /** `--sandbox-bind`. */
  sandboxBinds?: SandboxBind[];
  /** Where warnings go (a sandbox that cannot be had with `--sandbox auto`). */
  warn?: (message: string) => void;
  /** Where a failing output sink is reported (the run goes on). */
  onListenerError?: (err: unknown) => void;
}

/** The kernels a run will most likely ask for: `-k`, else the notebook's and its cells'. */
export function kernelsToPrewarm(nb: Notebook, kernel: string | undefined): Set<string> {
  const names = new Set<string>();
  const main = kernel ?? nb.metadata.kernelspec?.name;
  if (main !== undefined) {
    names.add(main);
  }
  for (const cell of nb.cells) {
    const name = cell.metadata.nbstage?.kernel;
    if (typeof name === 'string' && cell.cell_type === 'code') {
      names.add(name);
    }
  }
  return names;
}

function startProvider(options: LocalTargetOptions, signal: AbortSignal): Promise<KernelProvider> {
  const { env } = options;
  const mode = options.sandbox ?? 'off';
  const warn = options.warn ?? ((): void => undefined);
  const jupyterUrl = env.NBSTAGE_JUPYTER_URL;
  const server =
    jupyterUrl !== undefined && jupyterUrl !== ''
      ? 'remote'
      : env.NBSTAGE_REUSE_SERVER === '0'
        ? 'private'
        : options.session === true || env.NBSTAGE_REUSE_SERVER === '1'
          ? 'shared'
          : null;
  if (server !== null && mode !== 'off') {
    const why = `kernels on a Jupyter server (${server}) are not sandboxed by nbstage`;
    if (mode === 'required') {
      return Promise.reject(new UsageError(`--sandbox required: ${why}`));
    }
    warn(why);
  }
  if (server === 'remote') {
    return Promise.resolve(
      remoteProvider(jupyterUrl ?? '', env.NBSTAGE_JUPYTER_TOKEN ?? '', { env }),
    );
  }
  if (server === 'private') {
    return startLocalProvider({ rootDir: options.rootDir, signal });
  }
  if (server === 'shared') {
    return sharedLocalProvider();
  }
  return Promise.resolve().then(() => {
    const support = sandboxWanted(mode, warn, env);
    const provider = new ZmqKernelProvider({
      env,
      cwd: options.rootDir,
      kernel: {
        readyTimeoutMs: kernelStartTimeoutMs(env),
        ...(support === null
          ? {}
          : {
              sandbox: {
                bwrap: support.bwrap,
                binds: options.sandboxBinds ?? [],
                transport: sandboxTransport(env),
              },
            }),
      },
    });
    // The kernel `nbstage run` launched before it loaded the modules that read the notebook
    // (never sandboxed: a sandboxed kernel starts in the run's folder).
    provider.adopt(support === null ? takeEarlyLaunch() : null);
    return provider;
  });
}

/** A local target whose kernel provider (and Jupyter server, if any) starts now. */
export function localTarget(options: LocalTargetOptions): RunTarget {
  const startAbort = new AbortController();
  const starting = startProvider(options, startAbort.signal);
  starting.catch(() => undefined);
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      startAbort.abort();
      await starting.then((p) => p.close()).catch(() => undefined);
    })();
    return closed;
  };
  return {
    async run(run, listeners, signal) {
      try {
        const provider = await starting;
        // The kernel starts while kernelspecs are listed and parameters injected.
        for (const name of kernelsToPrewarm(run.loaded.notebook, run.spec.kernel)) {
          provider.prewarm(name);
        }
        if (signal.aborted) {
          throw new CancelledError('run cancelled before it started');
        }
        return await executeRun(run, provider, {
          listeners,
          signal,
          onListenerError: options.onListenerError,
        });
      } finally {
        await close();
      }
    },
    close,
  };
}
