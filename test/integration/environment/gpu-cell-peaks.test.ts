/**
 * Each cell's GPU peak on a GPU worker, through a real in-process worker, queue, kernel and
 * store. No GPU is at hand, so `nvidia-smi` is a stand-in the worker is given (as a worker takes
 * its command runner): it reports one GPU, and as its memory in use whatever the notebook last
 * wrote into a file, so that each cell sets what the GPU "holds", sampled every 50 ms. The run
 * holds the GPU alone: what it uses is the run's. `scripts/gpu-smoke.sh` checks the same on a real GPU.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { CodeCell, JSONObject, Notebook } from '../../../pipelines/notebook/model';
import type { Principal } from '../../../server/auth/types';
import { inProcessBackend } from '../../../server/queue';
import { RunManager } from '../../../server/runs/run-manager';
import type { ServiceRun } from '../../../server/runs/service-run';
import { openVersionStore } from '../../../server/store/git-version-store';
import type { CommandRunner } from '../../../server/workers/gpus';
import { startWorkerRuntime } from '../../../server/workers/worker-runtime';
import { cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';

const MIB = 1024 * 1024;
const principal: Principal = { id: 'abcdefabcdef', name: 'test-user', role: 'run' };

describe("each cell's GPU peak on a GPU worker", () => {
  afterAll(cleanupDirs);

  it('records what the GPU held during each cell, and the run peak of the GPU', async () => {
    const used = path.join(tempDir(), 'gpu-used-mib');
    fs.writeFileSync(used, '0');
    const asked: string[] = [];
    const nvidiaSmi: CommandRunner = async (cmd, args) => {
      asked.push(`${cmd} ${args[0]}`);
      if (cmd !== 'nvidia-smi') {
        return null;
      }
      if (args[0].startsWith('--query-gpu=index,uuid')) {
        return '0, GPU-0000-test, NVIDIA Test GPU, 999.99, 81559';
      }
      return `0, ${fs.readFileSync(used, 'utf8').trim()}`;
    };
    // Sampled every 50 ms (the worker reads NBSTAGE_GPU_SAMPLE_MS as each run starts).
    const before = process.env.NBSTAGE_GPU_SAMPLE_MS;
    process.env.NBSTAGE_GPU_SAMPLE_MS = '50';
    const home = tempDir();
    const backend = inProcessBackend();
    const queue = backend.queue();
    const store = await openVersionStore(home);
    const finished = new Map<string, () => void>();
    const runs = new RunManager({
      home,
      queue,
      store,
      onChange: (record: ServiceRun) => {
        if (record.finishedAt !== null) {
          finished.get(record.id)?.();
        }
      },
    });
    const runtime = await startWorkerRuntime({
      backend,
      concurrency: 1,
      commandRunner: nvidiaSmi,
      sandbox: 'off',
      prewarm: [],
    });
    try {
      expect(runtime.labels).toContain('gpu');
      // Each cell sets what the GPU holds, then holds it for 8 samples' time.
      const hold = (mib: number) =>
        `open(${JSON.stringify(used)}, "w").write("${mib}")\nimport time\ntime.sleep(0.4)`;
      const notebook = makeNotebook([
        `import os\nprint(os.environ["CUDA_VISIBLE_DEVICES"])\n${hold(100)}`,
        hold(3000),
        hold(20),
      ]);
      const job = `gpu-${randomUUID()}`;
      const record = await runs.create(
        {
          notebook: notebook as unknown as JSONObject,
          job,
          build: '1',
          gpus: 1,
          labels: ['gpu'],
        },
        principal,
      );
      await new Promise<void>((resolve) => {
        finished.set(record.id, resolve);
        if (runs.get(record.id)?.finishedAt !== null) {
          resolve();
        }
      });
      expect(runs.get(record.id)?.state).toBe('completed');
      const shown = await store.show(job, '1');
      const nb = shown.notebook as Notebook;
      const peakOf = (i: number) =>
        (nb.cells[i] as CodeCell).metadata.nbstage?.peak_gpu_memory_bytes;
      // The kernel saw its GPU. Each cell's own samples: what the cell before left in use counts
      // until the cell frees it (cell 2 may have read 3000 MiB before its write).
      expect(JSON.stringify((nb.cells[0] as CodeCell).outputs)).toContain('GPU-0000-test');
      expect(peakOf(0)).toBe(100 * MIB);
      expect(peakOf(1)).toBe(3000 * MIB);
      expect(peakOf(2)).toBeGreaterThanOrEqual(20 * MIB);
      expect(peakOf(2)).toBeLessThanOrEqual(3000 * MIB);
      expect(shown.run.gpus).toEqual([
        expect.objectContaining({ uuid: 'GPU-0000-test', peakMemoryMiB: 3000 }),
      ]);
      expect(asked.filter((a) => a.includes('memory.used')).length).toBeGreaterThanOrEqual(10);
    } finally {
      if (before === undefined) {
        delete process.env.NBSTAGE_GPU_SAMPLE_MS;
      } else {
        process.env.NBSTAGE_GPU_SAMPLE_MS = before;
      }
      await runtime.close();
      runs.close();
      await queue.close();
      await store.close();
    }
  }, 60_000);
});
