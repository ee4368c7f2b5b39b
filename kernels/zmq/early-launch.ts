/**
 * The head start of an embedded `nbstage run`: its kernel's process is launched first thing,
 * before the modules that read, validate and run the notebook are even loaded (they take about
 * 0.2 s, about half of what ipykernel takes to become ready), and the run's kernel provider
 * adopts it ({@link takeEarlyLaunch}). Only what that needs is imported here: the kernelspecs,
 * a connection file and a process; ZMQ itself is loaded later, by the provider. When the run
 * stops before it asks for the kernel (bad input), {@link abandonEarlyLaunch} ends it.
 */
import fs from 'node:fs';
import { writeConnectionFile, type ConnectionFile } from './connection';
import { KernelProcess } from './kernel-process';
import { findKernelSpecs, type ZmqKernelSpec } from './kernelspecs';

/** A kernel process launched before its run asked for it. */
export interface EarlyLaunch {
  spec: ZmqKernelSpec;
  connection: ConnectionFile;
  process: KernelProcess;
  /** The environment and working directory it was launched with. */
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** What decides whether and which kernel to launch early: `nbstage run`'s flags and env. */
export interface EarlyLaunchRequest {
  notebook: string;
  kernel?: string;
  server?: string;
  session?: string;
  sandbox?: string;
  /** `--memory`, in bytes (0: none). */
  memory?: number;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Notebooks larger than this are not read twice for a head start. */
const MAX_PEEK_BYTES = 8 * 1024 * 1024;

/** The kernel launched early: its kernelspec's name at once, the process once it runs. */
export interface EarlyKernel {
  name: string;
  launch: Promise<EarlyLaunch | null>;
  /** The `--memory` limit it was launched with. */
  memoryLimitBytes?: number;
}

let launched: EarlyKernel | null = null;
let taken = false;

function set(value: string | undefined): boolean {
  return value !== undefined && value !== '';
}

/** The kernelspec name of a notebook file, when it names one (cheaply; null otherwise). */
function kernelOfNotebook(file: string): string | null {
  try {
    if (fs.statSync(file).size > MAX_PEEK_BYTES) {
      return null;
    }
    const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      metadata?: { kernelspec?: { name?: unknown } };
    };
    const name = nb.metadata?.kernelspec?.name;
    return typeof name === 'string' && name !== '' ? name : null;
  } catch {
    // Unreadable or not JSON: the run itself says what is wrong with it.
    return null;
  }
}

/**
 * Launches the kernel `nbstage run` will ask for when it will launch it directly (no service,
 * no Jupyter server, no session) and the kernel is known (`-k`, else the notebook's
 * kernelspec). Does nothing otherwise, and never throws: the run finds any problem itself.
 * Resolves once the process is spawned (a few ms: free ports are found first), so that the
 * synchronous loading of the run's modules, which comes next, does not hold the launch back.
 */
export async function launchEarly(request: EarlyLaunchRequest): Promise<void> {
  const { env } = request;
  if (
    launched !== null ||
    set(request.server) ||
    set(env.NBSTAGE_URL) ||
    set(env.NBSTAGE_JUPYTER_URL) ||
    set(env.NBSTAGE_REUSE_SERVER) ||
    set(request.session) ||
    (request.sandbox !== undefined && request.sandbox !== 'off') ||
    set(env.NBSTAGE_SESSION)
  ) {
    return;
  }
  const name = request.kernel ?? kernelOfNotebook(request.notebook);
  const spec = name === null ? undefined : findKernelSpecs(env).get(name);
  if (spec === undefined) {
    return;
  }
  const memoryLimitBytes =
    request.memory === undefined || request.memory === 0 ? undefined : request.memory;
  const launch = (async () => {
    const connection = await writeConnectionFile(spec.name);
    try {
      const process = KernelProcess.launch(spec, connection.path, {
        env,
        cwd: request.cwd,
        ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
      });
      return { spec, connection, process, env, cwd: request.cwd };
    } catch {
      connection.remove();
      return null;
    }
  })().catch(() => null);
  launched = {
    name: spec.name,
    launch,
    ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
  };
  await launch;
}

/** The kernel launched early, for the provider to adopt (once; null when there is none). */
export function takeEarlyLaunch(): EarlyKernel | null {
  if (launched === null || taken) {
    return null;
  }
  taken = true;
  return launched;
}

/** Ends the kernel launched early when no provider adopted it. */
export async function abandonEarlyLaunch(): Promise<void> {
  if (launched === null || taken) {
    return;
  }
  taken = true;
  const early = await launched.launch;
  if (early !== null) {
    early.process.signal('SIGKILL');
    await early.process.waitExit(2000);
    early.connection.remove();
  }
}
