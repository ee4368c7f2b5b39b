/**
 * What the cases of `npm run bench` share: the project's paths, the test notebooks, timing a
 * command, the pause between runs, and the statistics (median, minimum, percentile, ratio).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot, venvPython } from '../kernels/python-env';
import type { Notebook } from '../pipelines/notebook/model';

/** The nbstage checkout the bench runs from. */
export const root = packageRoot();
/** The project's `.venv/bin`: jupyter-execute, papermill, jupyter kernelgateway, python. */
export const venvBin = path.dirname(venvPython(root));
/** Repetitions of every timed run (BENCH_REPEAT, default 5). */
export const repeat = Number(process.env.BENCH_REPEAT ?? 5);
/** Quiet time after each run (BENCH_PAUSE_MS, default 1500). */
export const pauseMs = Number(process.env.BENCH_PAUSE_MS ?? 1500);

/** Waits `ms` (default {@link pauseMs}): background work of one run stays off the next one's clock. */
export function pause(ms: number = pauseMs): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A python3 notebook of code cells with these sources. */
export function notebook(sources: string[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' },
    },
    cells: sources.map((source, i) => ({
      cell_type: 'code' as const,
      id: `cell${i}`,
      source,
      metadata: {},
      execution_count: null,
      outputs: [],
    })),
  };
}

/** `count` cells `x = <i>`. */
export function trivialCells(count: number): Notebook {
  return notebook(Array.from({ length: count }, (_, i) => `x = ${i}`));
}

/** Ten cells, each importing math and printing a square root. */
export function tenCells(): Notebook {
  return notebook(
    Array.from({ length: 10 }, (_, i) => `import math\ny = math.sqrt(${i})\nprint(y)`),
  );
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The `p`th percentile of `values` (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `a / b` to two decimals. */
export function ratio(a: number, b: number): number {
  return Number((a / b).toFixed(2));
}

/** Milliseconds since `start` (a `process.hrtime.bigint()`). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** What {@link runTimed} saw of a command: its wall time, exit code and the tails of its output. */
export interface TimedRun {
  ms: number;
  /** The exit code (null when a signal ended it). */
  code: number | null;
  /** The last 4000 characters of stdout (empty unless asked for). */
  stdout: string;
  /** The last 4000 characters of stderr. */
  stderr: string;
}

/** Options of {@link runTimed}. */
export interface RunTimedOptions {
  /** Keep the tail of stdout (default: discarded). */
  keepStdout?: boolean;
  /** Resolve when the command fails too (default: reject). */
  allowFailure?: boolean;
}

const TAIL = 4000;

/**
 * Runs a command with `.venv/bin` first on PATH; resolves to its wall time in ms, exit code and
 * the tails of its stderr and (with `keepStdout`) stdout; rejects with the tail of its stderr when
 * it fails, unless `allowFailure`. Variables set to `undefined` in `env` are removed.
 */
export function runTimed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: RunTimedOptions = {},
): Promise<TimedRun> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', options.keepStdout === true ? 'pipe' : 'ignore', 'pipe'],
      env: { ...process.env, ...env, PATH: `${venvBin}${path.delimiter}${process.env.PATH ?? ''}` },
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-TAIL);
    });
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-TAIL);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = msSince(start);
      if (code !== 0 && options.allowFailure !== true) {
        reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}: ${err}`));
      } else {
        resolve({ ms, code, stdout: out, stderr: err });
      }
    });
  });
}

/**
 * Runs a command with stdout discarded and `.venv/bin` first on PATH; resolves to its wall time
 * in ms, rejects with the tail of its stderr when it fails. Variables set to `undefined` in `env`
 * are removed.
 */
export async function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<number> {
  return (await runTimed(cmd, args, env)).ms;
}
