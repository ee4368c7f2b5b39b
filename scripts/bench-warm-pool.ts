/**
 * The warm-pool case of `npm run bench`: what one more cell costs on a kernel that is already
 * up, as a worker with a warm pool has it, against nbclient on a kernel it did not start.
 * Both in-process, no CLI: nbstage's `executeRun` on a prewarmed `ZmqKernelProvider({ poolSize:
 * 1 })`, nbclient's `NotebookClient(nb, km=km)` in `bench_nbclient_warm.py`. Each times notebooks
 * of 1 and 201 trivial cells; per cell = (T201 - T1) / 200, so what every run pays once (taking
 * the kernel, its setup code, nbclient's kernel client) drops out. nbstage also runs with
 * `NBSTAGE_CELL_MEMORY=0`, for what measuring each cell's memory peak in the kernel costs; the
 * three series are interleaved round by round.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AcquiredKernel } from '../kernels/provider';
import type { ZmqKernel } from '../kernels/zmq/zmq-kernel';
import { ZmqKernelProvider } from '../kernels/zmq/zmq-provider';
import type { KernelSource } from '../pipelines/kernel-source';
import { executeRun, loadRun } from '../pipelines/runner';
import {
  median,
  msSince,
  pause,
  pauseMs,
  ratio,
  repeat,
  root,
  trivialCells,
  venvBin,
} from './bench-common';

const SMALL = 1;
const LARGE = 201;
/** Most nbstage/nbclient (per-cell medians) the case must show. */
const TARGET = 0.9;

/** Per-cell ms from the times of the small and the large notebook. */
function perCell(small: number, large: number): number {
  return Number(((large - small) / (LARGE - SMALL)).toFixed(3));
}

/** Median and minimum of both notebooks' times and the per-cell costs they give. */
function summary(times: { small: number[]; large: number[] }): {
  per_cell_median_ms: number;
  per_cell_min_ms: number;
  median_ms: { cells_1: number; cells_201: number };
  min_ms: { cells_1: number; cells_201: number };
} {
  const med = { small: median(times.small), large: median(times.large) };
  const min = { small: Math.min(...times.small), large: Math.min(...times.large) };
  return {
    per_cell_median_ms: perCell(med.small, med.large),
    per_cell_min_ms: perCell(min.small, min.large),
    median_ms: { cells_1: Math.round(med.small), cells_201: Math.round(med.large) },
    min_ms: { cells_1: Math.round(min.small), cells_201: Math.round(min.large) },
  };
}

type Times = { small: number[]; large: number[] };

/**
 * The three series, interleaved round by round so that the machine's drift falls on all alike:
 * nbstage as it runs (each cell measures its own memory peak in the kernel), nbstage with
 * `NBSTAGE_CELL_MEMORY=0` (peaks sampled from outside), and nbclient. nbstage's kernels are
 * released after the clock stops (a run shuts its pooled kernel down: not a per-cell cost), and
 * each run starts once the pool's next kernel is surely up, so no kernel boots on a run's clock.
 */
async function interleavedTimes(
  small: string,
  large: string,
): Promise<{ nbstage: Times; inKernelOff: Times; nbclient: Times }> {
  const provider = new ZmqKernelProvider({ poolSize: 1 });
  const releases: Promise<void>[] = [];
  const source: KernelSource<AcquiredKernel<ZmqKernel>> = {
    kernelSpecs: () => provider.kernelSpecs(),
    acquire: (name, options) => provider.acquire(name, options),
    release: (lease, keep) => {
      releases.push(provider.release(lease, keep));
      return Promise.resolve();
    },
  };
  const series = (): Times => ({ small: [], large: [] });
  const out = { nbstage: series(), inKernelOff: series(), nbclient: series() };
  const off = { ...process.env, NBSTAGE_CELL_MEMORY: '0' };
  try {
    provider.prewarm('python3');
    // How long a kernel takes to be ready (and stopped) here; the pool's next one gets twice that.
    const start = process.hrtime.bigint();
    await provider.release(await provider.acquire('python3'), false);
    const settleMs = Math.max(pauseMs, 2 * msSince(start));
    const runOnce = async (
      notebookPath: string,
      environment: NodeJS.ProcessEnv | undefined,
    ): Promise<number> => {
      await pause(settleMs);
      const t = process.hrtime.bigint();
      const spec = environment === undefined ? { notebookPath } : { notebookPath, environment };
      const result = await executeRun(await loadRun(spec), source);
      const ms = msSince(t);
      await Promise.all(releases.splice(0));
      if (result.status !== 'completed') {
        throw new Error(`warm-pool: ${path.basename(notebookPath)} ended ${result.status}`);
      }
      return ms;
    };
    for (let i = 0; i < repeat; i++) {
      const rounds: [Times, NodeJS.ProcessEnv | undefined][] = [
        [out.nbstage, undefined],
        [out.inKernelOff, off],
      ];
      for (const [times, env] of rounds) {
        times.small.push(await runOnce(small, env));
        times.large.push(await runOnce(large, env));
      }
      await pause();
      const theirs = await nbclientTimes(small, large, 1);
      out.nbclient.small.push(...theirs.small);
      out.nbclient.large.push(...theirs.large);
    }
  } finally {
    await Promise.all(releases);
    await provider.close();
  }
  return out;
}

/** nbclient's times of the two notebooks, `times` each, from one run of bench_nbclient_warm.py. */
function nbclientTimes(small: string, large: string, times: number): Promise<Times> {
  const script = path.join(root, 'scripts', 'bench_nbclient_warm.py');
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(venvBin, 'python'), [script, String(times), small, large], {
      cwd: path.dirname(small),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${venvBin}${path.delimiter}${process.env.PATH ?? ''}` },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`bench_nbclient_warm.py exited ${code}: ${err}`));
        return;
      }
      const parsed = JSON.parse(out) as Record<string, number[]>;
      resolve({ small: parsed[small], large: parsed[large] });
    });
  });
}

/** Runs the case; resolves to its JSON line's object. */
export async function warmPool(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-warm-'));
  try {
    const small = path.join(dir, `cells-${SMALL}.ipynb`);
    const large = path.join(dir, `cells-${LARGE}.ipynb`);
    fs.writeFileSync(small, JSON.stringify(trivialCells(SMALL)));
    fs.writeFileSync(large, JSON.stringify(trivialCells(LARGE)));
    const times = await interleavedTimes(small, large);
    const nbstage = summary(times.nbstage);
    const inKernelOff = summary(times.inKernelOff);
    const nbclient = summary(times.nbclient);
    return {
      case: 'warm-pool',
      description: `per-cell cost on a warm kernel, in-process: (T${LARGE} - T${SMALL}) / ${LARGE - SMALL} trivial cells`,
      nbstage_kernels:
        'ZmqKernelProvider({ poolSize: 1 }), prewarmed; executeRun(loadRun(...)); kernel stopped after the clock',
      nbclient_kernel:
        'one AsyncKernelManager kernel, started before the clock; NotebookClient(nb, km=km)',
      repeat,
      per_cell_median_ms: {
        nbstage: nbstage.per_cell_median_ms,
        nbstage_cell_memory_off: inKernelOff.per_cell_median_ms,
        nbclient: nbclient.per_cell_median_ms,
      },
      per_cell_min_ms: {
        nbstage: nbstage.per_cell_min_ms,
        nbstage_cell_memory_off: inKernelOff.per_cell_min_ms,
        nbclient: nbclient.per_cell_min_ms,
      },
      // What each cell's own memory peak, measured in the kernel, costs a trivial cell.
      cell_memory_ms: Number(
        (nbstage.per_cell_median_ms - inKernelOff.per_cell_median_ms).toFixed(3),
      ),
      median_ms: { nbstage: nbstage.median_ms, nbclient: nbclient.median_ms },
      min_ms: { nbstage: nbstage.min_ms, nbclient: nbclient.min_ms },
      ratio_vs_nbclient: ratio(nbstage.per_cell_median_ms, nbclient.per_cell_median_ms),
      ratio_vs_nbclient_min: ratio(nbstage.per_cell_min_ms, nbclient.per_cell_min_ms),
      target_ratio_vs_nbclient: TARGET,
      meets_target: ratio(nbstage.per_cell_median_ms, nbclient.per_cell_median_ms) <= TARGET,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
