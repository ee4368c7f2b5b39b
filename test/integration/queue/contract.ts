/**
 * The contract every queue backend passes: priority then FIFO order, labels, concurrency,
 * cancelling queued and active jobs, failures keeping their code and message, events in order,
 * session pinning and release, depth, workers, payload validation. `queueContract(name, make)`
 * registers the suite; `make` returns a fresh backend for each test (its own key prefix on Redis).
 */
import { randomUUID } from 'node:crypto';
import { CancelledError, CellExecutionError } from '../../../pipelines/errors';
import type {
  JobHandler,
  JobInfo,
  QueueBackend,
  QueueEvent,
  QueueWorker,
  RunJobPayload,
  RunQueue,
  WorkerOptions,
} from '../../../server/queue';

/** A unique resource name for this test run. */
export function testName(): string {
  return `test-${randomUUID()}`;
}

/** A promise with its resolve, to hold a handler until the test lets it go. */
export function gate(): { open: () => void; opened: Promise<void> } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Polls `check` every 20 ms until it returns a value other than undefined. */
export async function until<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A payload with a fresh run id. */
export function payload(extra: Partial<RunJobPayload> = {}): RunJobPayload {
  return { runId: testName(), labels: [], spec: { notebook: 'test.ipynb' }, ...extra };
}

/** One test's queue, workers and events; closes them all at the end. */
export class Harness {
  readonly queue: RunQueue;
  readonly events: QueueEvent[] = [];
  private readonly workers: QueueWorker[] = [];
  private readonly gates: (() => void)[] = [];

  constructor(readonly backend: QueueBackend) {
    this.queue = backend.queue();
    this.queue.onEvent((e) => this.events.push(e));
  }

  /** Starts a worker (id `test-<uuid>` unless given) and waits until it listens. */
  async worker(options: Partial<WorkerOptions> & { handler: JobHandler }): Promise<QueueWorker> {
    const worker = this.backend.worker({ id: testName(), labels: [], concurrency: 1, ...options });
    this.workers.push(worker);
    await worker.ready();
    return worker;
  }

  /** A gate opened at the latest when the test ends. */
  gate(): { open: () => void; opened: Promise<void> } {
    const g = gate();
    this.gates.push(g.open);
    return g;
  }

  /** The types of the events of one job, in arrival order. */
  typesOf(runId: string): string[] {
    return this.events.filter((e) => e.runId === runId).map((e) => e.type);
  }

  /** Waits until the job has finished (by its events) and returns its record. */
  async finished(runId: string, timeoutMs = 10_000): Promise<JobInfo> {
    await until(
      `run ${runId} to finish`,
      () =>
        this.events.find(
          (e) =>
            e.runId === runId &&
            (e.type === 'completed' || e.type === 'failed' || e.type === 'cancelled'),
        ),
      timeoutMs,
    );
    const info = await this.queue.get(runId);
    if (info === null) {
      throw new Error(`run ${runId} has no record`);
    }
    return info;
  }

  /** Waits for an event of a job. */
  async event(runId: string, type: QueueEvent['type']): Promise<QueueEvent> {
    return until(`${type} of ${runId}`, () =>
      this.events.find((e) => e.runId === runId && e.type === type),
    );
  }

  async close(): Promise<void> {
    this.gates.forEach((open) => open());
    await Promise.all(this.workers.map((w) => w.close()));
    await this.queue.close();
  }
}

/**
 * Whether a job queued through one backend made by `make` is still queued for the next one it
 * makes: what `capabilities.durable` promises.
 */
export async function queuedJobOutlivesBackend(make: () => QueueBackend): Promise<boolean> {
  const first = make().queue();
  const job = payload();
  await first.enqueue(job);
  await first.close();
  const second = make().queue();
  try {
    return (await second.get(job.runId))?.state === 'queued';
  } finally {
    await second.close();
  }
}

/** Registers the shared contract suite for one backend. */
export function queueContract(name: string, makeBackend: () => QueueBackend): void {
  describe(`queue contract: ${name}`, () => {
    let h: Harness;
    beforeEach(() => {
      h = new Harness(makeBackend());
    });
    afterEach(async () => {
      await h.close();
    });

    test('runs higher priority first, FIFO within a priority', async () => {
      const jobs = [
        payload({ priority: 0 }),
        payload({ priority: 0 }),
        payload({ priority: 5 }),
        payload({ priority: 5 }),
        payload({ priority: -1 }),
        payload(),
      ];
      for (const job of jobs) {
        await h.queue.enqueue(job);
      }
      const order: string[] = [];
      await h.worker({
        handler: async ({ payload: p }) => {
          order.push(p.runId);
          return {};
        },
      });
      for (const job of jobs) {
        expect((await h.finished(job.runId)).state).toBe('completed');
      }
      const [a0, a1, b0, b1, c, d] = jobs.map((j) => j.runId);
      expect(order).toEqual([b0, b1, a0, a1, d, c]);
    });

    test('a gpu job goes only to a gpu worker; a job without labels to any worker', async () => {
      const handler: JobHandler = async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return {};
      };
      const cpu = await h.worker({ labels: ['cpu'], concurrency: 2, handler });
      const gpu = await h.worker({ labels: ['cpu', 'gpu'], concurrency: 2, handler });
      const gpuJobs = [1, 2, 3, 4].map(() => payload({ labels: ['gpu'] }));
      const anyJobs = [1, 2, 3, 4].map(() => payload());
      const cpuJobs = [1, 2].map(() => payload({ labels: ['cpu'] }));
      for (const job of [...gpuJobs, ...anyJobs, ...cpuJobs]) {
        await h.queue.enqueue(job);
      }
      for (const job of gpuJobs) {
        const info = await h.finished(job.runId);
        expect(info).toMatchObject({ state: 'completed', workerId: gpu.id });
      }
      for (const job of [...anyJobs, ...cpuJobs]) {
        const info = await h.finished(job.runId);
        expect(info.state).toBe('completed');
        expect([cpu.id, gpu.id]).toContain(info.workerId);
      }
    });

    test('a job no worker can take stays queued while others run', async () => {
      await h.worker({ labels: ['cpu'], handler: async () => ({}) });
      const stuck = payload({ labels: ['gpu', 'nvlink'] });
      const fine = payload({ labels: ['cpu'] });
      await h.queue.enqueue(stuck);
      await h.queue.enqueue(fine);
      expect((await h.finished(fine.runId)).state).toBe('completed');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await h.queue.get(stuck.runId)).toMatchObject({ state: 'queued' });
      expect(await h.queue.depth()).toEqual({ queued: 1, active: 0 });
      expect(await h.queue.cancel(stuck.runId)).toBe(true);
    });

    test('never runs more than `concurrency` jobs at once; depth counts queued and active', async () => {
      const jobs = [1, 2, 3, 4, 5].map(() => payload());
      for (const job of jobs) {
        await h.queue.enqueue(job);
      }
      expect(await h.queue.depth()).toEqual({ queued: 5, active: 0 });
      const release = h.gate();
      let running = 0;
      let most = 0;
      await h.worker({
        concurrency: 2,
        handler: async () => {
          running += 1;
          most = Math.max(most, running);
          await release.opened;
          running -= 1;
          return {};
        },
      });
      await until('two jobs running', () => (running === 2 ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(running).toBe(2);
      expect(await h.queue.depth()).toEqual({ queued: 3, active: 2 });
      release.open();
      for (const job of jobs) {
        expect((await h.finished(job.runId)).state).toBe('completed');
      }
      expect(most).toBe(2);
      expect(await h.queue.depth()).toEqual({ queued: 0, active: 0 });
    });

    test('cancels a queued job at once; it never runs', async () => {
      const job = payload();
      await h.queue.enqueue(job);
      expect(await h.queue.cancel(job.runId)).toBe(true);
      const info = await h.queue.get(job.runId);
      expect(info).toMatchObject({ runId: job.runId, state: 'cancelled' });
      expect(info?.finishedAt).toEqual(expect.any(String));
      const ran: string[] = [];
      await h.worker({
        handler: async ({ payload: p }) => {
          ran.push(p.runId);
          return {};
        },
      });
      const next = payload();
      await h.queue.enqueue(next);
      expect((await h.finished(next.runId)).state).toBe('completed');
      expect(ran).toEqual([next.runId]);
      expect(h.typesOf(job.runId)).toEqual(['queued', 'cancelled']);
      expect(await h.queue.cancel(job.runId)).toBe(false);
      expect(await h.queue.cancel(testName())).toBe(false);
      expect(await h.queue.get(testName())).toBeNull();
    });

    test('cancels an active job: its signal is aborted, it is cancelled once the handler settles', async () => {
      let sawAbort = false;
      const settle = h.gate();
      await h.worker({
        handler: async ({ signal }) => {
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          sawAbort = signal.aborted;
          await settle.opened;
          throw new CancelledError();
        },
      });
      const job = payload();
      await h.queue.enqueue(job);
      await h.event(job.runId, 'active');
      expect(await h.queue.cancel(job.runId)).toBe(true);
      await until('the handler to see the abort', () => (sawAbort ? true : undefined));
      expect(await h.queue.get(job.runId)).toMatchObject({ state: 'active' });
      settle.open();
      const info = await h.finished(job.runId);
      expect(info.state).toBe('cancelled');
      expect(h.typesOf(job.runId)).toEqual(['queued', 'active', 'cancelled']);
      expect(await h.queue.depth()).toEqual({ queued: 0, active: 0 });
    });

    test('a failing handler fails its job, keeping the error code and message', async () => {
      const worker = await h.worker({
        handler: async ({ payload: p }) => {
          if (p.spec.kind === 'cell') {
            throw new CellExecutionError(2, 'ValueError', 'bad value', []);
          }
          if (p.spec.kind === 'plain') {
            throw new Error('boom');
          }
          return { fine: true };
        },
      });
      const cell = payload({ spec: { kind: 'cell' } });
      const plain = payload({ spec: { kind: 'plain' } });
      const after = payload({ spec: { kind: 'ok' } });
      for (const job of [cell, plain, after]) {
        await h.queue.enqueue(job);
      }
      expect(await h.finished(cell.runId)).toMatchObject({
        state: 'failed',
        workerId: worker.id,
        error: { code: 'NBSTAGE_CELL_FAILED', message: 'cell 2 raised ValueError: bad value' },
      });
      expect(await h.finished(plain.runId)).toMatchObject({
        state: 'failed',
        error: { code: 'NBSTAGE_INTERNAL', message: 'boom' },
      });
      expect(await h.finished(after.runId)).toMatchObject({
        state: 'completed',
        result: { fine: true },
      });
      expect(h.events.find((e) => e.runId === cell.runId && e.type === 'failed')?.data).toEqual({
        code: 'NBSTAGE_CELL_FAILED',
        message: 'cell 2 raised ValueError: bad value',
      });
    });

    test('events of a job come in order; the record has worker, times and result', async () => {
      const worker = await h.worker({
        handler: async ({ progress }) => {
          await progress({ step: 1 });
          await progress({ step: 2 });
          return { ok: true, cells: 3 };
        },
      });
      const job = payload();
      const queued = await h.queue.enqueue(job);
      expect(queued).toMatchObject({ runId: job.runId, state: 'queued' });
      const info = await h.finished(job.runId);
      expect(h.events.filter((e) => e.runId === job.runId)).toEqual([
        { runId: job.runId, type: 'queued' },
        { runId: job.runId, type: 'active', data: { workerId: worker.id } },
        { runId: job.runId, type: 'progress', data: { step: 1 } },
        { runId: job.runId, type: 'progress', data: { step: 2 } },
        { runId: job.runId, type: 'completed', data: { ok: true, cells: 3 } },
      ]);
      expect(info).toMatchObject({
        runId: job.runId,
        state: 'completed',
        workerId: worker.id,
        result: { ok: true, cells: 3 },
        enqueuedAt: queued.enqueuedAt,
      });
      const times = [info.enqueuedAt, info.startedAt ?? '', info.finishedAt ?? ''];
      expect(times.map((t) => Date.parse(t))).toEqual([...times.map((t) => Date.parse(t))].sort());
    });

    test('pins a session to the worker that took its first job', async () => {
      const handler: JobHandler = async () => {
        await new Promise((resolve) => setTimeout(resolve, 40));
        return {};
      };
      const a = await h.worker({ concurrency: 2, handler });
      const b = await h.worker({ concurrency: 2, handler });
      const session = testName();
      const jobs = [1, 2, 3].map(() => payload({ session }));
      const others = [1, 2, 3].map(() => payload());
      for (const job of [...jobs, ...others]) {
        await h.queue.enqueue(job);
      }
      const infos = await Promise.all(jobs.map((job) => h.finished(job.runId)));
      const owners = new Set(infos.map((info) => info.workerId));
      expect(infos.map((info) => info.state)).toEqual(['completed', 'completed', 'completed']);
      expect(owners.size).toBe(1);
      const owner = [...owners][0] === a.id ? a : b;
      expect(owner.sessions()).toEqual([session]);
      expect((owner === a ? b : a).sessions()).toEqual([]);
      await Promise.all(others.map((job) => h.finished(job.runId)));
      const later = payload({ session });
      await h.queue.enqueue(later);
      expect(await h.finished(later.runId)).toMatchObject({ workerId: owner.id });
    });

    test('a worker started with sessions gets their jobs; released, they go anywhere', async () => {
      const session = testName();
      const released: string[] = [];
      const handler: JobHandler = async () => ({});
      const a = await h.worker({
        sessions: [session],
        handler,
        onSessionReleased: (s) => void released.push(s),
      });
      const b = await h.worker({ concurrency: 2, handler });
      expect(a.sessions()).toEqual([session]);
      const first = payload({ session });
      await h.queue.enqueue(first);
      expect(await h.finished(first.runId)).toMatchObject({ workerId: a.id });
      await a.releaseSession(session);
      expect(released).toEqual([session]);
      expect(a.sessions()).toEqual([]);
      await a.close();
      const second = payload({ session });
      await h.queue.enqueue(second);
      expect(await h.finished(second.runId)).toMatchObject({ workerId: b.id });
      expect(b.sessions()).toEqual([session]);
    });

    test('releases a session idle for sessionIdleMs', async () => {
      const released: string[] = [];
      const worker = await h.worker({
        sessionIdleMs: 200,
        onSessionReleased: (s) => void released.push(s),
        handler: async () => ({}),
      });
      const session = testName();
      const job = payload({ session });
      await h.queue.enqueue(job);
      await h.finished(job.runId);
      expect(worker.sessions()).toEqual([session]);
      await until('the idle session to be released', () =>
        released.length > 0 ? true : undefined,
      );
      expect(released).toEqual([session]);
      expect(worker.sessions()).toEqual([]);
    });

    test('a session job needing labels its worker lacks fails with NBSTAGE_VALIDATION', async () => {
      const session = testName();
      await h.worker({ labels: ['cpu'], sessions: [session], handler: async () => ({}) });
      const job = payload({ session, labels: ['gpu'] });
      await h.queue.enqueue(job);
      const info = await h.finished(job.runId);
      expect(info.state).toBe('failed');
      expect(info.error?.code).toBe('NBSTAGE_VALIDATION');
      expect(info.error?.message).toMatch(/lacks label\(s\) gpu/);
    });

    test('lists the workers with their labels, concurrency and sessions', async () => {
      const session = testName();
      const a = await h.worker({
        labels: ['gpu', 'cpu'],
        concurrency: 3,
        sessions: [session],
        handler: async () => ({}),
      });
      const b = await h.worker({ handler: async () => ({}) });
      const workers = (await h.queue.workers()).filter((w) => w.id === a.id || w.id === b.id);
      expect(workers.sort((x, y) => (x.id === a.id ? -1 : y.id === a.id ? 1 : 0))).toEqual([
        { id: a.id, labels: ['gpu', 'cpu'], concurrency: 3, active: 0, sessions: [session] },
        { id: b.id, labels: [], concurrency: 1, active: 0, sessions: [] },
      ]);
    });

    test('rejects invalid payloads and a run id already used, naming the field', async () => {
      const bad = [
        { ...payload(), runId: 'has space' },
        { ...payload(), labels: ['a+b'] },
        { ...payload(), priority: 1.5 },
        { ...payload(), spec: 'x' },
        { ...payload(), extra: 1 },
      ];
      const fields = [
        'payload.runId',
        'payload.labels.0',
        'payload.priority',
        'payload.spec',
        'payload.extra',
      ];
      for (const [i, p] of bad.entries()) {
        await expect(h.queue.enqueue(p as unknown as RunJobPayload)).rejects.toMatchObject({
          code: 'NBSTAGE_VALIDATION',
          field: fields[i],
        });
      }
      const job = payload();
      await h.queue.enqueue(job);
      await expect(h.queue.enqueue(job)).rejects.toMatchObject({
        code: 'NBSTAGE_VALIDATION',
        field: 'payload.runId',
      });
      expect(await h.queue.cancel(job.runId)).toBe(true);
    });
  });
}
