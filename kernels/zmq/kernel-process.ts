/**
 * A kernel's process: its command from the kernelspec, run under `nbstage_init` (so what a
 * notebook starts ends with the kernel, and the kernel ends with this process, even SIGKILLed),
 * in a process group of its own that signals go to; its exit code and signal are kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { kernelProcessEnv, pythonHelpersDir, resolvePython } from '../python-env';
import type { KernelTransport } from './connection';
import type { ZmqKernelSpec } from './kernelspecs';
import { pythonFolders, SANDBOX_HOME, sandboxCommand, type SandboxBind } from './sandbox';

/** How a kernel process ended. */
export interface KernelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Where and how a kernel process starts. */
export interface KernelLaunchOptions {
  /** The kernel's working directory (default: this process's). */
  cwd?: string;
  /** Extra environment (over this process's; the kernelspec's `env` goes over both). */
  env?: NodeJS.ProcessEnv;
  /** The Python running `nbstage_init` and `python` kernelspecs (default {@link resolvePython}). */
  python?: string;
  /**
   * Run the kernel in a bubblewrap sandbox whose only writable folder is `cwd` (see
   * kernels/zmq/sandbox.ts): the bwrap binary and the operator's binds.
   */
  sandbox?: {
    bwrap: string;
    binds: SandboxBind[];
    devices?: string[];
    /** How its channels are reached (default `ipc`: sockets in its private folder). */
    transport?: KernelTransport;
    /** The folders it may write, one holding its cwd (default the cwd). */
    writable?: string[];
  };
  /**
   * Environment variables the kernel may see, by name (a service's kernels: never the service's
   * own); default all of this process's and `env`'s, less nbstage's credentials.
   */
  allowEnv?: (name: string) => boolean;
  /**
   * `--memory`: the kernel and what it starts get this address-space limit (`RLIMIT_AS`, set by
   * `nbstage_init`), in bytes.
   */
  memoryLimitBytes?: number;
}

const live = new Set<KernelProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A normal exit of this process takes its kernels along (a SIGKILL does too: nbstage_init).
    process.on('exit', () => {
      for (const kernel of live) {
        kernel.signal('SIGKILL');
      }
    });
  }
}

/** `{name}` fields of `text` replaced from `values`; unknown ones are left as they are. */
function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** `${VAR}` in a kernelspec's env values, from `env` (string.Template's safe_substitute). */
function expandEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (whole, braced: string | undefined, bare: string | undefined) =>
      env[braced ?? bare ?? ''] ?? whole,
  );
}

/**
 * The command and environment of a kernel of `spec` on `connectionFile`: its argv with
 * `{connection_file}` and `{resource_dir}` substituted and a bare `python` replaced by nbstage's
 * Python (as jupyter_client does with its own), IPython's history in memory, under nbstage_init.
 */
export function kernelCommand(
  spec: ZmqKernelSpec,
  connectionFile: string,
  options: KernelLaunchOptions = {},
): { argv: string[]; env: NodeJS.ProcessEnv } {
  const python = options.python ?? resolvePython().python;
  const values = { connection_file: connectionFile, resource_dir: spec.resourceDir };
  const cmd = spec.argv.map((a) => substitute(a, values));
  if (/^python(\d+(\.\d+)?)?$/.test(cmd[0])) {
    cmd[0] = python;
  }
  // As nbstage_owned.OwnedKernelManager does for the kernels of a Jupyter server.
  if (
    cmd.some((part) => part.includes('ipykernel')) &&
    !cmd.some((part) => part.startsWith('--HistoryManager.hist_file'))
  ) {
    cmd.push('--HistoryManager.hist_file=:memory:');
  }
  const env = kernelProcessEnv(options.env);
  if (options.allowEnv !== undefined) {
    for (const name of Object.keys(env)) {
      if (!options.allowEnv(name) && name !== 'PYTHONPATH' && name !== 'PYTHONUNBUFFERED') {
        delete env[name];
      }
    }
  }
  for (const [name, value] of Object.entries(spec.env)) {
    env[name] = expandEnv(value, env);
  }
  // nbstage_init dies with its parent and checks that this is it.
  env.JPY_PARENT_PID = String(process.pid);
  if (options.memoryLimitBytes !== undefined) {
    env.NBSTAGE_MEMORY_LIMIT = String(options.memoryLimitBytes);
  }
  const argv = [python, '-m', 'nbstage_init', '--', ...cmd];
  if (options.sandbox === undefined) {
    return { argv, env };
  }
  env.HOME = SANDBOX_HOME;
  env.TMPDIR = '/tmp';
  // Inside its PID namespace nbstage_init's parent is bwrap, which dies with this process
  // (--die-with-parent) and takes the namespace with it.
  delete env.JPY_PARENT_PID;
  const readOnly = [
    ...pythonFolders(python),
    ...(path.isAbsolute(cmd[0]) ? pythonFolders(cmd[0]) : []),
    pythonHelpersDir(),
    ...(spec.resourceDir === '' ? [] : [spec.resourceDir]),
  ];
  return {
    argv: sandboxCommand(argv, {
      bwrap: options.sandbox.bwrap,
      readOnly,
      workDir: path.resolve(options.sandbox.writable?.[0] ?? options.cwd ?? process.cwd()),
      moreWritable: (options.sandbox.writable ?? []).slice(1).map((w) => path.resolve(w)),
      cwd: path.resolve(options.cwd ?? process.cwd()),
      // The connection file's folder, writable: the kernel makes its Unix sockets there.
      connectionDir: path.dirname(connectionFile),
      binds: options.sandbox.binds,
      devices: options.sandbox.devices,
    }),
    env,
  };
}

/** A running kernel process; whoever launched it ends it ({@link signal}, {@link exited}). */
export class KernelProcess {
  /** The wrapper's pid, also the process group's id. */
  readonly pid: number;
  /** Resolves once the process has exited. */
  readonly exited: Promise<KernelExit>;
  private status: KernelExit | null = null;
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    sandboxed: boolean,
  ) {
    this.pid = child.pid ?? -1;
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.status === null) {
          this.status = sandboxed ? signalOfSandbox({ code, signal }) : { code, signal };
          live.delete(this);
          resolve(this.status);
        }
      };
      child.once('exit', done);
      child.once('error', (err) => {
        this.output += `\n${err.message}`;
        done(127, null);
      });
    });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    // Drained all the time, so a chatty kernel never blocks on a full pipe.
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Starts a kernel of `spec` on `connectionFile`. */
  static launch(
    spec: ZmqKernelSpec,
    connectionFile: string,
    options: KernelLaunchOptions = {},
  ): KernelProcess {
    const { argv, env } = kernelCommand(spec, connectionFile, options);
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd ?? process.cwd(),
      env,
      // A process group of its own: interrupts and terminations reach the kernel through it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kernel = new KernelProcess(child, options.sandbox !== undefined);
    if (kernel.pid > 0) {
      live.add(kernel);
      installExitHook();
    }
    return kernel;
  }

  /** How it ended, or null while it runs. */
  get exit(): KernelExit | null {
    return this.status;
  }

  /** The last lines it wrote (stdout and stderr), for error messages. */
  lastLines(count = 5): string {
    return this.output.trim().split('\n').slice(-count).join(' | ');
  }

  /**
   * Sends `sig` to the kernel's process group (the wrapper passes it by, the kernel gets it);
   * to the process alone if the group is gone. False when nothing was signalled.
   */
  signal(sig: NodeJS.Signals): boolean {
    if (this.pid <= 0) {
      return false;
    }
    try {
      process.kill(-this.pid, sig);
      return true;
    } catch {
      try {
        return this.status === null && this.child.kill(sig);
      } catch {
        return false;
      }
    }
  }

  /** Waits up to `ms` for the exit; true when it exited. */
  async waitExit(ms: number): Promise<boolean> {
    if (this.status !== null) {
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.exited.then(() => true), gaveUp]);
    clearTimeout(timer);
    return result;
  }
}

/**
 * How the kernel in a sandbox ended: bwrap exits with 128 + N when what it runs was killed by
 * signal N (nbstage_init dies of the kernel's signal), so that is what the exit says.
 */
function signalOfSandbox(exit: KernelExit): KernelExit {
  if (exit.code === null || exit.code <= 128) {
    return exit;
  }
  const name = Object.entries(os.constants.signals).find(([, n]) => n === exit.code! - 128)?.[0];
  return name === undefined ? exit : { code: null, signal: name as NodeJS.Signals };
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeExit(exit: KernelExit): string {
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
