/**
 * GPUs of a worker: found with `nvidia-smi`, advertised as labels (`gpu` and the model), handed
 * out exclusively to runs (a run's kernel sees only its GPUs through CUDA_VISIBLE_DEVICES; a run
 * that asked for none sees none), and sampled while a run holds them for its peak memory.
 */
import { execFile } from 'node:child_process';

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

/** Samples the memory used on `gpus` every `intervalMs` until stopped; resolves to the peaks. */
export function samplePeakMemory(
  gpus: GpuInfo[],
  run: CommandRunner = execCommand,
  intervalMs = 1000,
): { stop(): Promise<GpuUsage[]> } {
  const peaks = new Map<number, number>(gpus.map((g) => [g.index, 0]));
  let stopped = false;
  const sample = async (): Promise<void> => {
    const out = await run('nvidia-smi', [
      '--query-gpu=index,memory.used',
      '--format=csv,noheader,nounits',
    ]);
    for (const line of (out ?? '').split('\n')) {
      const [index, used] = line.split(',').map((p) => Number(p.trim()));
      if (peaks.has(index) && Number.isFinite(used)) {
        peaks.set(index, Math.max(peaks.get(index) ?? 0, used));
      }
    }
  };
  let chain: Promise<void> = gpus.length === 0 ? Promise.resolve() : sample();
  const timer =
    gpus.length === 0
      ? null
      : setInterval(() => {
          if (!stopped) {
            chain = chain.then(sample);
          }
        }, intervalMs);
  timer?.unref();
  return {
    stop: async () => {
      stopped = true;
      if (timer !== null) {
        clearInterval(timer);
      }
      await chain;
      if (gpus.length > 0) {
        await sample();
      }
      return gpus.map((g) => ({ ...g, peakMemoryMiB: peaks.get(g.index) ?? 0 }));
    },
  };
}
