/**
 * The shared local Jupyter server of embedded runs, like a build daemon: the first `nbstage run`
 * starts it in the background, later runs on the same machine (same user, same Python) reuse it
 * and take a spare kernel it keeps warm, so a run waits for neither. It shuts itself down after
 * NBSTAGE_SERVER_IDLE seconds without kernels (default 600; idle kernels are culled after the
 * same time). It listens on 127.0.0.1 only; its token is in a 0600 state file in a 0700 folder.
 * It serves many runs (other jobs' too), so it starts with a scrubbed environment, none of the
 * starting run's own variables (kernels/kernel-env.ts), and what its kernels write to their real
 * stdout and stderr stays out of its log once a run uses them (kernels/python/nbstage_owned.py).
 * NBSTAGE_REUSE_SERVER=0 turns all of this off (a private server per run).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UnreachableError } from '../pipelines/errors';
import { withFileLock } from '../pipelines/file-lock';
import type { JupyterEndpoint } from './endpoint';
import { freePort, jupyterServerCommand } from './jupyter-server';
import { sharedServerEnvironment } from './kernel-env';
import { createSession, listSessions, renameSession, serverAnswers } from './jupyter-rest';
import { KernelClient } from './kernel-client';
import { packageRoot, resolvePython } from './python-env';

/**
 * Seconds the shared server keeps a run's kernel after its last websocket closed: a reconnect
 * of the same run gets that long; a run that died loses its kernel after it.
 */
const ORPHAN_GRACE_SECONDS = 3;

/** What the state file of a shared server holds. */
interface SharedServerState {
  pid: number;
  url: string;
  token: string;
  python: string;
  startedAt: string;
}

/** Options of {@link connectSharedServer}. */
export interface SharedServerOptions {
  python?: string;
  /** Folder of the state, lock and log files (default NBSTAGE_RUNTIME_DIR or ~/.nbstage/run). */
  runtimeDir?: string;
  /** Seconds without kernels before the server exits (default NBSTAGE_SERVER_IDLE or 600). */
  idleSeconds?: number;
  startTimeoutMs?: number;
}

/** A connection to the shared server. */
export interface SharedServer {
  endpoint: JupyterEndpoint;
  /** Whether this call started it. */
  started: boolean;
  /** The folder its files live in (locks for claiming spare kernels too). */
  runtimeDir: string;
  pid: number;
}

/** The default runtime folder (an empty NBSTAGE_RUNTIME_DIR counts as unset). */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.NBSTAGE_RUNTIME_DIR || path.join(os.homedir(), '.nbstage', 'run');
}

let helpersDigest: string | null = null;

/**
 * A digest of the Python helpers the server runs (kernels/python/*.py): a server started by an
 * older nbstage is not reused; it idles out on its own.
 */
function helpers(): string {
  if (helpersDigest === null) {
    const dir = path.join(packageRoot(), 'kernels', 'python');
    const hash = createHash('sha256');
    for (const name of fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.py'))
      .sort()) {
      hash.update(name).update(fs.readFileSync(path.join(dir, name)));
    }
    helpersDigest = hash.digest('hex');
  }
  return helpersDigest;
}

function stateFile(dir: string, python: string): string {
  const key = createHash('sha256').update(python).update('\0').update(helpers());
  return path.join(dir, `jupyter-${key.digest('hex').slice(0, 12)}.json`);
}

function readState(file: string): SharedServerState | null {
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as SharedServerState;
    return typeof state.url === 'string' && typeof state.token === 'string' ? state : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function usable(state: SharedServerState | null): Promise<boolean> {
  return (
    state !== null && alive(state.pid) && serverAnswers({ baseUrl: state.url, token: state.token })
  );
}

/** Connects to the shared server, starting it when there is none that answers. */
export async function connectSharedServer(
  options: SharedServerOptions = {},
): Promise<SharedServer> {
  const python = options.python ?? resolvePython().python;
  const dir = options.runtimeDir ?? defaultRuntimeDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = stateFile(dir, python);
  const toShared = (state: SharedServerState, started: boolean): SharedServer => ({
    endpoint: { baseUrl: state.url, token: state.token },
    started,
    runtimeDir: dir,
    pid: state.pid,
  });
  const existing = readState(file);
  if (await usable(existing)) {
    return toShared(existing as SharedServerState, false);
  }
  return withFileLock(
    file,
    async () => {
      const again = readState(file);
      if (await usable(again)) {
        return toShared(again as SharedServerState, false);
      }
      const state = await startDetached(python, dir, options);
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
      fs.renameSync(tmp, file);
      return toShared(state, true);
    },
    { timeoutMs: 70_000, staleMs: 65_000 },
  );
}

async function startDetached(
  python: string,
  dir: string,
  options: SharedServerOptions,
): Promise<SharedServerState> {
  const idle = options.idleSeconds ?? Number(process.env.NBSTAGE_SERVER_IDLE ?? 600);
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  const { args, env, cwd } = jupyterServerCommand({
    python,
    rootDir: dir,
    port,
    token,
    // Not the environment of the run that happens to start it: its kernels serve later runs.
    inheritedEnv: sharedServerEnvironment(process.env),
    extraArgs: [
      `--ServerApp.shutdown_no_activity_timeout=${idle}`,
      `--MappingKernelManager.cull_idle_timeout=${idle}`,
      `--MappingKernelManager.cull_interval=${Math.max(10, Math.min(60, idle))}`,
      // A run's kernel ends with the run, also when `nbstage run` was SIGKILLed.
      `--OwnedWebsocketConnection.orphan_grace=${ORPHAN_GRACE_SECONDS}`,
    ],
  });
  const log = fs.openSync(
    path.join(dir, `${path.basename(stateFile(dir, python), '.json')}.log`),
    'a',
    0o600,
  );
  const child = spawn(python, args, { env, cwd, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  child.unref();
  const endpoint = { baseUrl: `http://127.0.0.1:${port}/`, token };
  const deadline = Date.now() + (options.startTimeoutMs ?? 60000);
  for (;;) {
    if (spawnError !== undefined) {
      throw new UnreachableError(
        `cannot start Jupyter server with ${python}: ${spawnError.message} (run \`nbstage doctor\`)`,
      );
    }
    if (child.exitCode !== null) {
      throw new UnreachableError(
        `Jupyter server exited during start (code ${child.exitCode}); see ${path.join(dir, '*.log')} (run \`nbstage doctor\`)`,
      );
    }
    if (await serverAnswers(endpoint)) {
      break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new UnreachableError('Jupyter server did not answer within the start timeout');
    }
    await new Promise((r) => setTimeout(r, 40));
  }
  return {
    pid: child.pid ?? 0,
    url: endpoint.baseUrl,
    token,
    python,
    startedAt: new Date().toISOString(),
  };
}

/** Stops the shared server of `python` if one runs (tests, and `nbstage doctor --stop`). */
export async function stopSharedServer(
  options: { python?: string; runtimeDir?: string } = {},
): Promise<boolean> {
  const python = options.python ?? resolvePython().python;
  return stopByState(stateFile(options.runtimeDir ?? defaultRuntimeDir(), python));
}

/**
 * Stops every shared server whose state is in `runtimeDir` (any Python, any nbstage version);
 * resolves to how many were running.
 */
export async function stopSharedServers(runtimeDir: string): Promise<number> {
  const files = fs.existsSync(runtimeDir)
    ? fs.readdirSync(runtimeDir).filter((f) => /^jupyter-[0-9a-f]+\.json$/.test(f))
    : [];
  const stopped = await Promise.all(files.map((f) => stopByState(path.join(runtimeDir, f))));
  return stopped.filter(Boolean).length;
}

async function stopByState(file: string): Promise<boolean> {
  const state = readState(file);
  fs.rmSync(file, { force: true });
  if (state === null || !alive(state.pid)) {
    return false;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (alive(state.pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (alive(state.pid)) {
    process.kill(state.pid, 'SIGKILL');
  }
  return true;
}

const SPARE_PREFIX = 'nbstage-spare/';

/**
 * Spare kernels kept warm in a shared server, as Jupyter sessions under `nbstage-spare/<name>/`.
 * Claiming renames the session under a lock, so two runs never take the same kernel.
 */
export class SpareKernels {
  private readonly wanted = new Set<string>();

  constructor(
    private readonly endpoint: JupyterEndpoint,
    /** Claims are serialized by this file's lock (`<file>.lock`). */
    private readonly lockFile: string,
  ) {}

  /** Takes a warm kernel of `name`, or null when there is none. */
  async claim(name: string): Promise<KernelClient | null> {
    const claimed = await withFileLock(
      this.lockFile,
      async () => {
        const sessions = await listSessions(this.endpoint);
        const spare = sessions.find(
          (s) =>
            s.path.startsWith(`${SPARE_PREFIX}${name}/`) &&
            s.kernel.name === name &&
            s.kernel.execution_state !== 'dead',
        );
        if (spare === undefined) {
          return null;
        }
        // Renamed out of the spares (the lock makes this a claim); the kernel is ours now.
        const renamed = await renameSession(
          this.endpoint,
          spare.id,
          `nbstage-claimed/${randomUUID()}`,
        ).then(
          () => true,
          () => false,
        );
        return renamed ? spare : null;
      },
      { staleMs: 10000 },
    ).catch(() => null);
    if (claimed === null) {
      return null;
    }
    try {
      return await KernelClient.connect(this.endpoint, { id: claimed.kernel.id, name });
    } catch {
      return null;
    }
  }

  /**
   * Notes that a spare of `name` is wanted; it is started by {@link settle}, after the run, so
   * that its start does not compete with the run's cells for the CPU.
   */
  replenish(name: string): void {
    this.wanted.add(name);
  }

  private start(name: string): Promise<void> {
    return createSession(this.endpoint, {
      path: `${SPARE_PREFIX}${name}/${randomUUID()}`,
      name: 'nbstage spare kernel',
      kernel: name,
    }).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Starts the wanted spare kernels (the server answers once their processes are launched). */
  async settle(): Promise<void> {
    const names = [...this.wanted];
    this.wanted.clear();
    await Promise.all(names.map((name) => this.start(name)));
  }
}
