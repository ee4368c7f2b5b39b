/**
 * GPUs of a worker: found with `nvidia-smi`, advertised as labels (`gpu` and the model), handed
 * out exclusively to runs (a run's kernel sees only its GPUs through CUDA_VISIBLE_DEVICES; a run
 * that asked for none sees none), and sampled while a run holds them for their peak memory, over
 * the run and in each cell.
 */
import { execFile } from 'node:child_process';
import type { RunEventListener } from '../../pipelines/executor/events';
import type { Notebook } from '../../pipelines/notebook/model';

const MIB = 1024 * 1024;

/** One GPU as nvidia-smi reports it. */
export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  driver: string;
  memoryTotalMiB: number;
}

/** What a run records about the GPUs it held. */
export interface GpuUsage extends GpuInfo {
  peakMemoryMiB: number;
}

/** Runs a command; resolves with stdout, or null when it is missing or fails. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<string | null>;

/** The real command runner (nvidia-smi from PATH, 10 s limit). */
export const execCommand: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout));
  });

/** Parses `nvidia-smi --query-gpu=index,uuid,name,driver_version,memory.total --format=csv,noheader,nounits`. */
export function parseGpuList(csv: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of csv.split('\n')) {
    const parts = line.split(',').map((p) => p.trim());
    if (parts.length < 5 || !/^\d+$/.test(parts[0])) {
      continue;
    }
    gpus.push({
      index: Number(parts[0]),
      uuid: parts[1],
      name: parts[2],
      driver: parts[3],
      memoryTotalMiB: Number(parts[4]) || 0,
    });
  }
  return gpus;
}

/** The GPUs of this host (empty without nvidia-smi or driver). */
export async function listGpus(run: CommandRunner = execCommand): Promise<GpuInfo[]> {
  const out = await run('nvidia-smi', [
    '--query-gpu=index,uuid,name,driver_version,memory.total',
    '--format=csv,noheader,nounits',
  ]);
  return out === null ? [] : parseGpuList(out);
}

/** Labels a worker with these GPUs advertises: `gpu` and each model (`gpu-nvidia-h100-80gb-hbm3`). */
export function gpuLabels(gpus: GpuInfo[]): string[] {
  if (gpus.length === 0) {
    return [];
  }
  const models = new Set(
    gpus.map((g) =>
      `gpu-${g.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}`.slice(0, 64),
    ),
  );
  return ['gpu', ...models];
}

/**
 * The device nodes a sandboxed kernel needs for `gpus`: the driver's control and unified-memory
 * nodes and `/dev/nvidia<index>` of each (the index nvidia-smi gives is the node's minor number
 * on ordinary hosts); none without GPUs. Nodes a host lacks are skipped by the sandbox.
 */
export function gpuDeviceNodes(gpus: GpuInfo[]): string[] {
  if (gpus.length === 0) {
    return [];
  }
  return [
    '/dev/nvidiactl',
    '/dev/nvidia-uvm',
    '/dev/nvidia-uvm-tools',
    '/dev/nvidia-modeset',
    ...gpus.map((g) => `/dev/nvidia${g.index}`),
  ];
}

/** GPUs handed to one run; `release` gives them back. */
export interface GpuLease {
  gpus: GpuInfo[];
  /** CUDA_VISIBLE_DEVICES for the run's kernel ('' when it holds none: it sees no GPU). */
  cudaVisibleDevices: string;
  release(): void;
}

/**
 * Hands out GPUs exclusively: a run asking for N gets N GPUs no other run holds, waiting (in
 * order) until that many are free. Asking for more than the host has fails at once.
 */
export class GpuAllocator {
  private readonly free: GpuInfo[];
  private readonly waiting: { count: number; resolve: (lease: GpuLease) => void }[] = [];

  constructor(readonly gpus: GpuInfo[]) {
    this.free = [...gpus];
  }

  /** How many GPUs are free now. */
  get available(): number {
    return this.free.length;
  }

  /** A lease of `count` GPUs (waits until they are free; aborting the signal stops waiting). */
  acquire(count: number, signal?: AbortSignal): Promise<GpuLease> {
    if (count > this.gpus.length) {
      return Promise.reject(
        new RangeError(`the run needs ${count} GPUs; this worker has ${this.gpus.length}`),
      );
    }
    if (count <= 0) {
      return Promise.resolve({ gpus: [], cudaVisibleDevices: '', release: () => undefined });
    }
    if (this.waiting.length === 0 && this.free.length >= count) {
      return Promise.resolve(this.lease(count));
    }
    return new Promise((resolve, reject) => {
      const entry = { count, resolve };
      this.waiting.push(entry);
      signal?.addEventListener('abort', () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          reject(new Error('cancelled while waiting for GPUs'));
        }
      });
    });
  }

  private lease(count: number): GpuLease {
    const taken = this.free.splice(0, count);
    let released = false;
    return {
      gpus: taken,
      cudaVisibleDevices: taken.map((g) => g.uuid || String(g.index)).join(','),
      release: () => {
        if (released) {
          return;
        }
        released = true;
        this.free.push(...taken);
        this.free.sort((a, b) => a.index - b.index);
        this.wake();
      },
    };
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.free.length >= this.waiting[0].count) {
      const next = this.waiting.shift();
      next?.resolve(this.lease(next.count));
    }
  }
}

/** What {@link samplePeakMemory} gives back. */
export interface GpuSampler {
  /** A run event listener: a cell's start opens its window, its end closes it. */
  listener: RunEventListener;
  /** Stops sampling; each GPU's peak over the run. */
  stop(): Promise<GpuUsage[]>;
  /**
   * After {@link GpuSampler.stop}: the peak memory used on the run's GPUs together (bytes)
   * while each cell ran, by cell index; cells no sample fell in have none.
   */
  cellPeaks(): Map<number, number>;
}

/** How often a run's GPUs are sampled: `NBSTAGE_GPU_SAMPLE_MS`, default 1000 (at least 10). */
export function gpuSampleMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = Number(env.NBSTAGE_GPU_SAMPLE_MS);
  return Number.isFinite(raw) && raw > 0 ? Math.max(10, Math.round(raw)) : 1000;
}

/**
 * Samples the memory used on `gpus` every `intervalMs` until stopped: each GPU's peak over the
 * run, and the run's GPUs' peak together while each cell ran. A leased GPU is the run's alone,
 * so what it uses is the run's. A sample counts for a cell only when it was both asked for and
 * answered while that cell ran: cells run back to back (the next one is already queued in the
 * kernel), so a sample asked for as a cell ends would read the next cell's memory. A cell
 * shorter than the interval may so have no peak: none is claimed.
 */
export function samplePeakMemory(
  gpus: GpuInfo[],
  run: CommandRunner = execCommand,
  intervalMs = 1000,
): GpuSampler {
  const peaks = new Map<number, number>(gpus.map((g) => [g.index, 0]));
  const cells = new Map<number, number>();
  // The cell that runs, and a count of cell starts, so that a sample can tell its cell ended.
  let open: number | null = null;
  let window = 0;
  let stopped = false;
  const sample = async (): Promise<void> => {
    const cell = open;
    const asked = window;
    const out = await run('nvidia-smi', [
      '--query-gpu=index,memory.used',
      '--format=csv,noheader,nounits',
    ]);
    let total: number | null = null;
    for (const line of (out ?? '').split('\n')) {
      const [index, used] = line.split(',').map((p) => Number(p.trim()));
      if (peaks.has(index) && Number.isFinite(used)) {
        peaks.set(index, Math.max(peaks.get(index) ?? 0, used));
        total = (total ?? 0) + used;
      }
    }
    if (cell !== null && open === cell && window === asked && total !== null) {
      cells.set(cell, Math.max(cells.get(cell) ?? 0, total * MIB));
    }
  };
  const measuring = gpus.length > 0;
  let chain: Promise<void> = measuring ? sample() : Promise.resolve();
  const timer = measuring
    ? setInterval(() => {
        if (!stopped) {
          chain = chain.then(sample);
        }
      }, intervalMs)
    : null;
  timer?.unref();
  return {
    listener: (event) => {
      if (event.type === 'cell-start') {
        open = event.index;
        window += 1;
      } else if (event.type === 'cell-end') {
        open = null;
      }
    },
    stop: async () => {
      stopped = true;
      open = null;
      if (timer !== null) {
        clearInterval(timer);
      }
      await chain;
      if (measuring) {
        await sample();
      }
      return gpus.map((g) => ({ ...g, peakMemoryMiB: peaks.get(g.index) ?? 0 }));
    },
    cellPeaks: () => new Map(cells),
  };
}

/**
 * Writes each cell's GPU peak into the executed notebook, as
 * `metadata.nbstage.peak_gpu_memory_bytes` beside its `peak_rss_bytes`.
 */
export function recordCellGpuPeaks(notebook: Notebook, peaks: Map<number, number>): void {
  for (const [index, bytes] of peaks) {
    const cell = notebook.cells[index];
    if (cell?.cell_type === 'code') {
      cell.metadata.nbstage = { ...cell.metadata.nbstage, peak_gpu_memory_bytes: bytes };
    }
  }
}
