/**
 * Supervises a local Jupyter server: started on 127.0.0.1 on a free port with a random token,
 * with nbstage's websocket class (TCP_NODELAY) and the nbstage Python helpers on the kernels'
 * PYTHONPATH; stopped when closed or when this process exits, and by itself when this process
 * dies (kernels/python/nbstage_owned.py). Its kernels start under kernels/python/nbstage_init.py,
 * so whatever a notebook leaves running ends with its kernel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { CancelledError, UnreachableError } from '../pipelines/errors';
import type { JupyterEndpoint } from './endpoint';
import { serverAnswers } from './jupyter-rest';
import { kernelProcessEnv, resolvePython } from './python-env';

/** Options of {@link LocalJupyterServer.start}. */
export interface LocalJupyterServerOptions {
  /** Python interpreter with jupyter_server installed; default: {@link resolvePython}. */
  python?: string;
  /** Root directory of the server (kernels start there). Default: the current directory. */
  rootDir?: string;
  /** Turn TCP_NODELAY on for kernel websockets (default true; `NBSTAGE_TCP_NODELAY=0` turns it off). */
  tcpNoDelay?: boolean;
  /** Extra environment for the server and so for its kernels. */
  env?: NodeJS.ProcessEnv;
  /**
   * The environment the server inherits, `env` added (default this process's); the shared
   * server's is scrubbed (kernels/kernel-env.ts).
   */
  inheritedEnv?: NodeJS.ProcessEnv;
  /** How long to wait for the server to answer, in ms (default 60000). */
  startTimeoutMs?: number;
  /** Aborting stops a server that is still starting (start rejects with CancelledError). */
  signal?: AbortSignal;
}

/** What became of a server process that exited. */
export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines it logged. */
  log: string;
}

const live = new Set<LocalJupyterServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  // A supervised server never outlives us: kill what is left on a normal exit.
  process.on('exit', () => {
    for (const server of live) {
      server.killNow();
    }
  });
}

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The arguments and environment of a Jupyter server process as nbstage runs it. */
export function jupyterServerCommand(
  options: LocalJupyterServerOptions & {
    port: number;
    token: string;
    extraArgs?: string[];
    /** The process the server dies with (its parent); none for a shared server. */
    ownerPid?: number;
  },
): { args: string[]; env: NodeJS.ProcessEnv; cwd: string } {
  const noDelay = options.tcpNoDelay ?? process.env.NBSTAGE_TCP_NODELAY !== '0';
  const env = kernelProcessEnv(options.env, options.inheritedEnv);
  if (options.ownerPid !== undefined) {
    env.NBSTAGE_OWNER_PID = String(options.ownerPid);
  }
  // Not on the command line, which every local user can read (`ps`); nbstage_owned takes it
  // out of the environment before any kernel starts.
  env.NBSTAGE_SERVER_TOKEN = options.token;
  const rootDir = options.rootDir ?? process.cwd();
  const args = [
    '-m',
    'nbstage_owned',
    '--no-browser',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.port=${options.port}`,
    '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${rootDir}`,
    // Kernels start under nbstage_init: their background processes end with them.
    '--MappingKernelManager.kernel_manager_class=nbstage_owned.OwnedKernelManager',
    '--ServerApp.log_level=WARN',
    '--ServerApp.terminals_enabled=False',
    // The executor notices a dead kernel itself; no need to wait long on shutdowns.
    '--KernelManager.shutdown_wait_time=1',
    // The server's iopub rate limit (1 MB/s, 1000 msgs/s by default) replaces fast output with
    // a warning: a run must keep every byte its cells print. It also parses every header.
    '--ZMQChannelsWebsocketConnection.limit_rate=False',
    ...(options.extraArgs ?? []),
  ];
  if (process.getuid?.() === 0) {
    // CI containers and many Jenkins agents run as root; the server is bound to 127.0.0.1.
    args.push('--allow-root');
  }
  args.push(
    '--ServerApp.kernel_websocket_connection_class=nbstage_owned.OwnedWebsocketConnection',
    `--OwnedWebsocketConnection.nodelay=${noDelay ? 'True' : 'False'}`,
  );
  // The server's working directory is its root, never the caller's: a run's folder may be
  // deleted (Jenkins' cleanWs()) while the server lives on.
  return { args, env, cwd: rootDir };
}

/** A Jupyter server child process owned by this process. */
export class LocalJupyterServer {
  readonly endpoint: JupyterEndpoint;
  private readonly child: ChildProcess;
  private closed = false;
  private exited: Promise<void>;
  private logTail = '';
  private readonly exitListeners = new Set<(exit: ServerExit) => void>();

  private constructor(child: ChildProcess, endpoint: JupyterEndpoint) {
    this.child = child;
    this.endpoint = endpoint;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
      } else {
        child.once('exit', (code, signal) => {
          resolve();
          if (!this.closed) {
            const exit: ServerExit = { code, signal, log: this.lastLines(5) };
            for (const listener of this.exitListeners) {
              listener(exit);
            }
          }
        });
      }
    });
    // The last lines it logged, for the message when it exits on its own. The pipes are
    // drained all the time, so the server never blocks on a full one.
    const keep = (chunk: Buffer): void => {
      this.logTail = (this.logTail + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  private lastLines(count: number): string {
    return this.logTail.trim().split('\n').slice(-count).join(' | ');
  }

  /**
   * Calls `listener` when the process exits without {@link close} (killed, crashed): the
   * supervisor's cue. Returns a function that removes the listener.
   */
  onExit(listener: (exit: ServerExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Starts a server and waits until its REST API answers. */
  static async start(options: LocalJupyterServerOptions = {}): Promise<LocalJupyterServer> {
    const python = options.python ?? resolvePython().python;
    const token = randomBytes(24).toString('hex');
    const port = await freePort();
    const { args, env, cwd } = jupyterServerCommand({
      ...options,
      port,
      token,
      ownerPid: process.pid,
    });
    const child = spawn(python, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const endpoint: JupyterEndpoint = { baseUrl: `http://127.0.0.1:${port}/`, token };
    const server = new LocalJupyterServer(child, endpoint);
    live.add(server);
    installExitHook();
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    const deadline = Date.now() + (options.startTimeoutMs ?? 60000);
    for (;;) {
      if (spawnError !== undefined) {
        live.delete(server);
        throw new UnreachableError(
          `cannot start Jupyter server with ${python}: ${spawnError.message} (run \`nbstage doctor\`)`,
        );
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        live.delete(server);
        const last = server.lastLines(3);
        throw new UnreachableError(
          `Jupyter server exited during start (code ${child.exitCode ?? child.signalCode}): ${last} (run \`nbstage doctor\`)`,
        );
      }
      if (options.signal?.aborted === true) {
        await server.close(0);
        throw new CancelledError('Jupyter server start cancelled');
      }
      if (await server.ready()) {
        break;
      }
      if (Date.now() > deadline) {
        await server.close();
        throw new UnreachableError(`Jupyter server did not answer within the start timeout`);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    return server;
  }

  private ready(): Promise<boolean> {
    return serverAnswers(this.endpoint);
  }

  /** Whether the server process is still running. */
  get running(): boolean {
    return !this.closed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the process at once (used on process exit). */
  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
  }

  /** Stops the server: SIGTERM (it shuts its kernels down), SIGKILL after a grace period. Idempotent. */
  async close(graceMs = 3000): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      live.delete(this);
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.killNow(), graceMs);
        await this.exited;
        clearTimeout(timer);
      }
    }
    await this.exited;
  }
}
