import {
  GpuAllocator,
  gpuDeviceNodes,
  gpuLabels,
  listGpus,
  parseGpuList,
  recordCellGpuPeaks,
  samplePeakMemory,
  type CommandRunner,
  type GpuInfo,
} from '../../../server/workers/gpus';
import type { RunEvent } from '../../../pipelines/executor/events';
import { makeNotebook } from '../../helpers/notebooks';

const CSV = [
  '0, GPU-aaaa, NVIDIA H100 80GB HBM3, 550.54.15, 81559',
  '1, GPU-bbbb, NVIDIA H100 80GB HBM3, 550.54.15, 81559',
  '2, GPU-cccc, NVIDIA H100 80GB HBM3, 550.54.15, 81559',
].join('\n');

const fakeSmi =
  (used: number[][]): CommandRunner =>
  async (cmd, args) => {
    expect(cmd).toBe('nvidia-smi');
    if (args[0].startsWith('--query-gpu=index,uuid')) {
      return CSV;
    }
    const sample = used.shift() ?? [0, 0, 0];
    return sample.map((u, i) => `${i}, ${u}`).join('\n');
  };

describe('GPUs', () => {
  it('parses nvidia-smi and derives labels', async () => {
    const gpus = await listGpus(fakeSmi([]));
    expect(gpus.map((g) => g.uuid)).toEqual(['GPU-aaaa', 'GPU-bbbb', 'GPU-cccc']);
    expect(gpus[0]).toMatchObject({
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      driver: '550.54.15',
      memoryTotalMiB: 81559,
    });
    expect(gpuLabels(gpus)).toEqual(['gpu', 'gpu-nvidia-h100-80gb-hbm3']);
    expect(gpuLabels([])).toEqual([]);
    expect(parseGpuList('No devices were found\n')).toEqual([]);
  });

  it('finds no GPUs when nvidia-smi is missing', async () => {
    expect(await listGpus(async () => null)).toEqual([]);
  });

  it('hands GPUs out exclusively and in order, and hides them from runs that asked for none', async () => {
    const alloc = new GpuAllocator(parseGpuList(CSV));
    const none = await alloc.acquire(0);
    expect(none.cudaVisibleDevices).toBe('');
    const a = await alloc.acquire(1);
    const b = await alloc.acquire(2);
    expect(a.cudaVisibleDevices).toBe('GPU-aaaa');
    expect(b.cudaVisibleDevices).toBe('GPU-bbbb,GPU-cccc');
    expect(alloc.available).toBe(0);
    const order: string[] = [];
    const c = alloc.acquire(2).then((l) => {
      order.push('c');
      return l;
    });
    const d = alloc.acquire(1).then((l) => {
      order.push('d');
      return l;
    });
    a.release();
    await new Promise((r) => setImmediate(r));
    // c (2 GPUs) is first in line: d must not overtake it although one GPU is free.
    expect(order).toEqual([]);
    b.release();
    const lc = await c;
    const ld = await d;
    expect(order).toEqual(['c', 'd']);
    const held = [...lc.cudaVisibleDevices.split(','), ld.cudaVisibleDevices];
    expect(new Set(held).size).toBe(3);
    lc.release();
    lc.release();
    ld.release();
    expect(alloc.available).toBe(3);
  });

  it('refuses more GPUs than the worker has and stops waiting on abort', async () => {
    const alloc = new GpuAllocator(parseGpuList(CSV));
    await expect(alloc.acquire(4)).rejects.toThrow(/needs 4 GPUs; this worker has 3/);
    const all = await alloc.acquire(3);
    const controller = new AbortController();
    const waiting = alloc.acquire(1, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(/cancelled/);
    all.release();
    expect(alloc.available).toBe(3);
  });

  it('records the peak memory of the GPUs a run held', async () => {
    const gpus = parseGpuList(CSV).slice(1, 3);
    const sampler = samplePeakMemory(
      gpus,
      fakeSmi([
        [5, 100, 200],
        [5, 900, 150],
        [5, 300, 50],
      ]),
      5,
    );
    await new Promise((r) => setTimeout(r, 30));
    const usage = await sampler.stop();
    expect(usage.map((u) => [u.index, u.peakMemoryMiB])).toEqual([
      [1, 900],
      [2, 200],
    ]);
  });
});

describe("each cell's GPU peak", () => {
  const events = {
    start: (index: number) => ({ type: 'cell-start', index }) as unknown as RunEvent,
    end: (index: number) => ({ type: 'cell-end', index }) as unknown as RunEvent,
  };

  it('counts a sample for a cell only when it was asked for and answered while that cell ran', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const gpus = parseGpuList(CSV).slice(1, 3);
      let used = [5, 10, 10];
      let hold = false;
      let release: () => void = () => undefined;
      const smi: CommandRunner = (_cmd, args) => {
        if (args[0].startsWith('--query-gpu=index,uuid')) {
          return Promise.resolve(CSV);
        }
        const answer = () => used.map((u, i) => `${i}, ${u}`).join('\n');
        return hold
          ? new Promise((resolve) => {
              release = () => resolve(answer());
            })
          : Promise.resolve(answer());
      };
      const flush = () => new Promise((r) => setImmediate(r));
      const sampler = samplePeakMemory(gpus, smi, 1000);
      await flush(); // the first sample, before any cell: none of a cell's

      // Asked while cell 0 runs, answered once cell 1 runs: neither cell's.
      hold = true;
      sampler.listener(events.start(0));
      jest.advanceTimersByTime(1000);
      await flush();
      sampler.listener(events.end(0));
      sampler.listener(events.start(1));
      used = [5, 9000, 9000];
      release();
      await flush();

      // Asked and answered while cell 1 runs: its own.
      hold = false;
      used = [5, 40, 10];
      jest.advanceTimersByTime(1000);
      await flush();
      sampler.listener(events.end(1));
      const usage = await sampler.stop();
      expect(usage.map((u) => u.peakMemoryMiB)).toEqual([9000, 9000]);
      expect([...sampler.cellPeaks()]).toEqual([[1, 50 * 1024 * 1024]]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('takes the largest of the samples while a cell runs', async () => {
    const gpus = parseGpuList(CSV).slice(0, 1);
    let used = 100;
    const sampler = samplePeakMemory(
      gpus,
      async (_cmd, args) => (args[0].startsWith('--query-gpu=index,uuid') ? CSV : `0, ${used}`),
      2,
    );
    sampler.listener(events.start(1));
    used = 7000;
    while (sampler.cellPeaks().get(1) !== 7000 * 1024 * 1024) {
      await new Promise((r) => setTimeout(r, 2));
    }
    used = 300;
    await new Promise((r) => setTimeout(r, 10));
    sampler.listener(events.end(1));
    await sampler.stop();
    expect(sampler.cellPeaks().get(1)).toBe(7000 * 1024 * 1024);
  });

  it('writes the peaks into the code cells of the notebook', () => {
    const nb = makeNotebook(['x = 1', 'y = 2']);
    nb.cells.splice(1, 0, { cell_type: 'markdown', id: 'm', metadata: {}, source: 'note' });
    recordCellGpuPeaks(
      nb,
      new Map([
        [0, 1024],
        [1, 2048],
        [2, 4096],
        [9, 1],
      ]),
    );
    expect(nb.cells.map((c) => c.metadata.nbstage?.peak_gpu_memory_bytes)).toEqual([
      1024,
      undefined,
      4096,
    ]);
  });

  it('measures nothing without GPUs', async () => {
    const sampler = samplePeakMemory([], async () => {
      throw new Error('nvidia-smi must not run');
    });
    sampler.listener(events.start(0));
    sampler.listener(events.end(0));
    expect(await sampler.stop()).toEqual([]);
    expect(sampler.cellPeaks().size).toBe(0);
  });
});

describe('gpuDeviceNodes', () => {
  it("is the driver's nodes and each leased GPU's, none without GPUs", () => {
    const gpu = (index: number): GpuInfo => ({
      index,
      uuid: `GPU-${index}`,
      name: 'NVIDIA H200',
      driver: '570.0',
      memoryTotalMiB: 143_771,
    });
    expect(gpuDeviceNodes([])).toEqual([]);
    expect(gpuDeviceNodes([gpu(0), gpu(3)])).toEqual([
      '/dev/nvidiactl',
      '/dev/nvidia-uvm',
      '/dev/nvidia-uvm-tools',
      '/dev/nvidia-modeset',
      '/dev/nvidia0',
      '/dev/nvidia3',
    ]);
  });
});
