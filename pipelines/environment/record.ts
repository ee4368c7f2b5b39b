/**
 * A run's reproducibility record, `metadata.nbstage.environment`: what the kernel reports of
 * itself (for Python: the interpreter, OS and libc, every installed distribution, conda, torch /
 * tensorflow / jax versions; `kernels/python/nbstage/environment.py`), the kernelspec, the
 * machine (CPU, memory), the workspace's git commit and whether it was dirty, and nbstage's
 * version. The kernel is asked with one silent request before the first cell: no cell, no
 * history, no output in the notebook. Kernels of other languages claim nothing.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KernelMessage } from '@jupyterlab/services';
import type { ExecutorKernel } from '../executor/kernel';
import type { JSONObject, JSONValue } from '../notebook/model';
import { nbstageVersion, packageRoot } from '../paths/package-root';

/** Mimetype of the kernel's report on its iopub channel. */
export const ENVIRONMENT_MIME = 'application/vnd.nbstage.environment+json';

/** How long a kernel has to report (ms): a kernel that does not is recorded without it. */
export const KERNEL_REPORT_TIMEOUT_MS = 10_000;

const helperSources = new Map<string, string>();

/**
 * Python that runs one of nbstage's kernel helpers (`kernels/python/nbstage/<module>.py`) and
 * then `call`, in a namespace of its own: the notebook's globals never see it, and the kernel
 * needs no nbstage on its path (a Jupyter server's or a gateway's kernel has none).
 */
function pythonHelperCode(module: string, call: string): string {
  let source = helperSources.get(module);
  if (source === undefined) {
    source = fs.readFileSync(
      path.join(packageRoot(), 'kernels', 'python', 'nbstage', `${module}.py`),
      'utf8',
    );
    helperSources.set(module, source);
  }
  // A JSON string is a Python string literal too.
  return `exec(compile(${JSON.stringify(`${source}\n${call}\n`)}, "<nbstage ${module}>", "exec"), {"__name__": "nbstage_${module}"})`;
}

/** The Python a kernel runs to report its environment. */
export function pythonProbeCode(): string {
  return pythonHelperCode('environment', 'publish()');
}

/**
 * The Python that makes a kernel measure each cell's peak resident memory itself (its process
 * tree's, from /proc: `kernels/python/nbstage/resources.py`).
 */
export function pythonResourcesCode(): string {
  return pythonHelperCode('resources', 'install()');
}

/**
 * What `kernel` reports of itself, or null: a kernel that is not Python, that fails the probe
 * (no IPython) or does not answer within `timeoutMs`.
 */
export async function kernelReport(
  kernel: ExecutorKernel,
  language: string,
  timeoutMs = KERNEL_REPORT_TIMEOUT_MS,
): Promise<JSONObject | null> {
  if (!/python/i.test(language)) {
    return null;
  }
  let report: JSONObject | null = null;
  const onIOPub = (msg: KernelMessage.IIOPubMessage): void => {
    if (msg.header.msg_type === 'display_data') {
      const data = (msg.content as { data?: Record<string, JSONValue> }).data ?? {};
      const value = data[ENVIRONMENT_MIME];
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        report = value;
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const handle = kernel.execute(
      pythonProbeCode(),
      { silent: true, storeHistory: false, stopOnError: false },
      { onIOPub },
    );
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const reply = await Promise.race([handle.done, timeout]);
    return reply?.content.status === 'ok' ? report : null;
  } catch {
    return null; // the kernel is gone: the run will say so
  } finally {
    clearTimeout(timer);
  }
}

/** The machine nbstage runs the kernel on (OS, CPU model and count, memory), and nbstage's version. */
export function machineRecord(): JSONObject {
  const cpus = os.cpus();
  return {
    machine: {
      os: {
        platform: os.platform(),
        release: os.release(),
        version: os.version(),
        arch: os.arch(),
      },
      cpu: { model: cpus[0]?.model.trim() ?? null, count: os.availableParallelism() },
      memory_bytes: os.totalmem(),
    },
    nbstage_version: nbstageVersion(),
  };
}

/** `git` in `dir`: its stdout, or null when it fails (not a checkout, no git). */
function git(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-C', dir, ...args],
      { env: { ...env, GIT_OPTIONAL_LOCKS: '0' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => resolve(err === null ? stdout : null),
    );
  });
}

/** A folder's git state: the commit checked out, whether tracked files changed, how many are untracked. */
export interface GitRecord {
  commit: string;
  dirty: boolean;
  untracked: number;
  branch: string | null;
}

/** The git state of the checkout holding `dir`, or null when it is not in one (or git is missing). */
export async function gitRecord(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<GitRecord | null> {
  const [head, branch, status] = await Promise.all([
    git(dir, ['rev-parse', '--verify', 'HEAD'], env),
    git(dir, ['symbolic-ref', '--short', '-q', 'HEAD'], env),
    git(dir, ['status', '--porcelain=v1', '-z', '--untracked-files=normal'], env),
  ]);
  if (head === null || status === null) {
    return null;
  }
  const entries = status.split('\0').filter((e) => e !== '');
  const untracked = entries.filter((e) => e.startsWith('?? ')).length;
  // -z puts a rename's old path in an entry of its own, after the one with its status.
  const changed = entries.some((e) => /^[ MADRCUT?!]{2} /.test(e) && !e.startsWith('?? '));
  return {
    commit: head.trim(),
    dirty: changed,
    untracked,
    branch: branch === null || branch.trim() === '' ? null : branch.trim(),
  };
}

/** What {@link runEnvironment} records from. */
export interface RunEnvironmentOptions {
  /** The run's main kernel (it is asked of itself), when it has one. */
  kernel: ExecutorKernel | undefined;
  language: string;
  /** The run's folder: its git checkout, when it is in one. */
  dir: string;
  /** The caller's git state and workspace digest (a service's copy has no `.git`). */
  source?: { git?: GitRecord | null; workspace?: string };
  env: NodeJS.ProcessEnv;
}

/**
 * The run's record, `metadata.nbstage.environment` (merged over the host and language the
 * executor records, and the GPUs a worker adds): the kernel's report, its kernelspec, the
 * machine, git, the workspace digest.
 */
export async function runEnvironment(options: RunEnvironmentOptions): Promise<JSONObject> {
  const { kernel, source } = options;
  const [report, git] = await Promise.all([
    kernel === undefined ? null : kernelReport(kernel, options.language),
    source?.git !== undefined ? source.git : gitRecord(options.dir, options.env),
  ]);
  return {
    ...machineRecord(),
    ...(kernel === undefined
      ? {}
      : {
          kernelspec: {
            name: kernel.name,
            language: options.language,
            argv: kernel.argv === undefined ? null : [...kernel.argv],
          },
        }),
    ...(report ?? {}),
    git: git === null ? null : { ...git },
    ...(source?.workspace === undefined ? {} : { workspace: source.workspace }),
  };
}

/**
 * Whether a Python kernel nbstage owns measures each cell's memory peak itself (the hooks of
 * `kernels/python/nbstage/resources.py`): unless `NBSTAGE_CELL_MEMORY` is `0`, when the peaks
 * are sampled from outside instead.
 */
export function measuresCellsInKernel(env: NodeJS.ProcessEnv): boolean {
  return env.NBSTAGE_CELL_MEMORY !== '0';
}

/** Whether runs record their environment: unless `NBSTAGE_RECORD_ENVIRONMENT` is `0`. */
export function recordsEnvironment(env: NodeJS.ProcessEnv, asked?: boolean): boolean {
  return asked !== false && env.NBSTAGE_RECORD_ENVIRONMENT !== '0';
}
