/**
 * The BullMQ backend across processes, on a real redis-server: worker processes (built from
 * dist/, see fixtures/worker-process.js) take only the jobs whose labels they have; a worker
 * SIGKILLed mid-job has that job failed, not retried, within the stall interval; restarting
 * redis-server (SIGKILL, AOF with fsync always) mid-queue loses no queued run. Also a payload
 * corrupted in Redis fails its job with NBSTAGE_VALIDATION without stopping the worker.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { bullmqBackend, type JobInfo, type QueueBackend } from '../../../server/queue';
import { useRedisServer } from '../../helpers/redis';
import { Harness, payload, testName, until } from './contract';

const redis = useRedisServer();
const root = path.resolve(__dirname, '..', '..', '..');
const fixture = path.join(__dirname, 'fixtures', 'worker-process.js');

/** A worker process and what it reported. */
interface WorkerProcess {
  id: string;
  child: ChildProcess;
  started: string[];
  output: string[];
}

let children: WorkerProcess[] = [];

/** The newest modification time of the .ts files under a folder. */
function newestSource(dir: string): number {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs)
    .reduce((a, b) => Math.max(a, b), 0);
}

beforeAll(() => {
  // The worker processes run the compiled queue: make sure it is the queue under test.
  const built = path.join(root, 'dist', 'server', 'queue', 'index.js');
  if (!fs.existsSync(built)) {
    throw new Error('the queue is not built: run `npm run build` first');
  }
  if (fs.statSync(built).mtimeMs < newestSource(path.join(root, 'server', 'queue'))) {
    throw new Error('dist/ is older than server/queue/: run `npm run build` first');
  }
});

afterEach(async () => {
  await Promise.all(children.map((w) => stopWorker(w)));
  children = [];
});

/** Starts a worker process and waits until it listens. */
async function startWorker(
  prefix: string,
  labels: string[],
  stalledIntervalMs: number,
): Promise<WorkerProcess> {
  const id = testName();
  const child = fork(fixture, [], {
    env: {
      ...process.env,
      NBSTAGE_TEST_REDIS_URL: redis().url,
      NBSTAGE_TEST_PREFIX: prefix,
      NBSTAGE_TEST_WORKER_ID: id,
      NBSTAGE_TEST_LABELS: labels.join(','),
      NBSTAGE_TEST_STALLED_MS: String(stalledIntervalMs),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const worker: WorkerProcess = { id, child, started: [], output: [] };
  children.push(worker);
  child.stdout?.on('data', (chunk: Buffer) => worker.output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => worker.output.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${id} not ready in 15 s`)), 15_000);
    child.on('message', (message: { type: string; runId?: string }) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (message.type === 'started' && message.runId !== undefined) {
        worker.started.push(message.runId);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${id} exited (${code}): ${worker.output.join('')}`));
    });
  });
  child.removeAllListeners('exit');
  return worker;
}

/** Closes a worker process politely, or kills it when it does not exit in 5 s. */
async function stopWorker(worker: WorkerProcess): Promise<void> {
  const { child } = worker;
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ type: 'close' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Polls the record of a run until it has finished. */
async function settled(h: Harness, runId: string, timeoutMs = 15_000): Promise<JobInfo> {
  return until(
    `run ${runId} to finish`,
    async () => {
      const info = await h.queue.get(runId);
      return info !== null && ['completed', 'failed', 'cancelled'].includes(info.state)
        ? info
        : undefined;
    },
    timeoutMs,
  );
}

function backendFor(prefix: string, stalledIntervalMs: number): QueueBackend {
  return bullmqBackend({ url: redis().url, prefix, stalledIntervalMs, pollIntervalMs: 200 });
}

describe('bullmq backend across processes', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  test('a gpu job goes only to the worker process labelled gpu', async () => {
    const prefix = testName();
    h = new Harness(backendFor(prefix, 10_000));
    const [gpu, cpu] = await Promise.all([
      startWorker(prefix, ['gpu'], 10_000),
      startWorker(prefix, [], 10_000),
    ]);
    const gpuJobs = [1, 2, 3].map(() => payload({ labels: ['gpu'], spec: { holdMs: 50 } }));
    const anyJobs = [1, 2, 3, 4].map(() => payload({ spec: { holdMs: 50 } }));
    for (const job of [...gpuJobs, ...anyJobs]) {
      await h.queue.enqueue(job);
    }
    for (const job of gpuJobs) {
      expect(await settled(h, job.runId)).toMatchObject({
        state: 'completed',
        workerId: gpu.id,
        result: { workerId: gpu.id, pid: gpu.child.pid },
      });
    }
    for (const job of anyJobs) {
      expect((await settled(h, job.runId)).state).toBe('completed');
    }
    expect(cpu.started.filter((runId) => gpuJobs.some((j) => j.runId === runId))).toEqual([]);
    expect(cpu.started.length + gpu.started.length).toBe(gpuJobs.length + anyJobs.length);
  });

  test('cancelling an active run reaches the worker process holding it', async () => {
    const prefix = testName();
    h = new Harness(backendFor(prefix, 10_000));
    const worker = await startWorker(prefix, [], 10_000);
    const job = payload({ spec: { holdMs: 60_000 } });
    await h.queue.enqueue(job);
    await until('the job to start', () => (worker.started.includes(job.runId) ? true : undefined));
    const asked = Date.now();
    expect(await h.queue.cancel(job.runId)).toBe(true);
    expect(await settled(h, job.runId)).toMatchObject({ state: 'cancelled', workerId: worker.id });
    expect(Date.now() - asked).toBeLessThan(2000);
  });

  test('a worker killed mid-job has that job failed, not retried, within the stall interval', async () => {
    const prefix = testName();
    const stalledIntervalMs = 2000;
    h = new Harness(backendFor(prefix, stalledIntervalMs));
    const doomed = await startWorker(prefix, ['gpu'], stalledIntervalMs);
    const job = payload({ labels: ['gpu'], spec: { holdMs: 60_000 } });
    await h.queue.enqueue(job);
    await until('the job to start', () => (doomed.started.includes(job.runId) ? true : undefined));
    const spare = await startWorker(prefix, ['gpu'], stalledIntervalMs);
    doomed.child.kill('SIGKILL');
    const killedAt = Date.now();
    const info = await settled(h, job.runId, 10_000);
    const took = Date.now() - killedAt;
    expect(info).toMatchObject({
      state: 'failed',
      workerId: doomed.id,
      error: { code: 'NBSTAGE_KERNEL_DIED', message: `worker ${doomed.id} stopped responding` },
    });
    expect(took).toBeLessThan(stalledIntervalMs + 1000);
    // The spare worker does not run the failed job again, and takes new ones.
    const next = payload({ labels: ['gpu'] });
    await h.queue.enqueue(next);
    expect(await settled(h, next.runId)).toMatchObject({ state: 'completed', workerId: spare.id });
    expect(spare.started).toEqual([next.runId]);
    expect(await h.queue.depth()).toEqual({ queued: 0, active: 0 });
  });

  test('restarting redis-server mid-queue loses no queued run', async () => {
    const prefix = testName();
    h = new Harness(backendFor(prefix, 10_000));
    const worker = await startWorker(prefix, [], 10_000);
    const jobs = [1, 2, 3, 4, 5, 6, 7, 8].map(() => payload({ spec: { holdMs: 100 } }));
    for (const job of jobs) {
      await h.queue.enqueue(job);
    }
    await settled(h, jobs[1]?.runId ?? '');
    const before = await h.queue.depth();
    expect(before.queued).toBeGreaterThan(0);
    await redis().restart('SIGKILL');
    for (const job of jobs) {
      expect(await settled(h, job.runId, 20_000)).toMatchObject({
        state: 'completed',
        workerId: worker.id,
      });
    }
    expect([...worker.started].sort()).toEqual(jobs.map((j) => j.runId).sort());
    expect(await h.queue.depth()).toEqual({ queued: 0, active: 0 });
  });

  test('a payload corrupted in Redis fails its job with NBSTAGE_VALIDATION; the worker goes on', async () => {
    const prefix = testName();
    h = new Harness(backendFor(prefix, 10_000));
    const invalid = payload();
    const unreadable = payload();
    const fine = payload();
    for (const job of [invalid, unreadable, fine]) {
      await h.queue.enqueue(job);
    }
    const raw = new Redis(redis().url);
    try {
      const key = (runId: string): string => `${prefix}:runs/-:run.${runId}`;
      await raw.hset(key(invalid.runId), 'data', JSON.stringify({ ...invalid, labels: 'gpu' }));
      await raw.hset(key(unreadable.runId), 'data', '{not json');
    } finally {
      raw.disconnect();
    }
    const ran: string[] = [];
    await h.worker({
      handler: async ({ payload: p }) => {
        ran.push(p.runId);
        return {};
      },
    });
    expect(await settled(h, invalid.runId)).toMatchObject({
      state: 'failed',
      error: {
        code: 'NBSTAGE_VALIDATION',
        message: 'invalid payload: payload.labels must be array',
      },
    });
    const info = await settled(h, unreadable.runId);
    expect(info.state).toBe('failed');
    expect(info.error?.code).toBe('NBSTAGE_VALIDATION');
    expect(info.error?.message).toMatch(/not JSON/);
    expect(await settled(h, fine.runId)).toMatchObject({ state: 'completed' });
    expect(ran).toEqual([fine.runId]);
  });
});
