/**
 * The hub of one in-process backend: it holds the jobs, the workers and the session pins, and
 * dispatches a queued job to a worker that has its labels (the session's worker, for a pinned
 * session) and a free slot, in priority then FIFO order; the worker runs it with the shared job
 * runner, and the hub records and publishes how it ended.
 */
import { CancelledError, ValidationError } from '../../../pipelines/errors';
import { QueueListeners } from '../event-listeners';
import { jobErrorOf } from '../job-outcome';
import type { JobTransport } from '../job-runner';
import { canTake, defaultWorkerId, sessionWorkerLacks } from '../labels';
import type {
  JSONObject,
  JobError,
  JobInfo,
  QueueEvent,
  RunJobPayload,
  WorkerInfo,
  WorkerOptions,
} from '../types';
import { parseRunJobPayload } from '../validate';
import { checkWorkerOptions } from '../worker-options';
import { InProcessWorker } from './in-process-worker';

/** Finished jobs whose results `get` still returns (results hold whole notebooks). */
const RESULTS_KEPT = 100;

/** One job of the hub. */
interface Entry {
  /** What the worker runs; let go of (null) once the job has finished. */
  payload: RunJobPayload | null;
  info: JobInfo;
  seq: number;
  cancelRequested: boolean;
  controller?: AbortController;
  settled?: Promise<void>;
}

/** Higher priority first, then first come first served. */
function byPriorityThenSeq(a: Entry, b: Entry): number {
  return (b.payload?.priority ?? 0) - (a.payload?.priority ?? 0) || a.seq - b.seq;
}

/** Jobs, workers, pins and listeners of one in-process backend. */
export class Hub {
  private readonly jobs = new Map<string, Entry>();
  private readonly finished: string[] = [];
  private queued: Entry[] = [];
  private readonly workers = new Map<string, InProcessWorker>();
  private readonly pins = new Map<string, string>();
  private readonly listeners = new QueueListeners((err) =>
    process.emitWarning(`queue event listener threw: ${err.message}`),
  );
  private seq = 0;
  private dispatchScheduled = false;

  constructor(private readonly maxFinishedJobs: number) {}

  /** Queues a job (see RunQueue.enqueue). */
  enqueue(input: RunJobPayload): JobInfo {
    // Checked before it is cloned: structuredClone recurses, and a payload nested too deeply
    // would overflow the stack.
    const payload = structuredClone(parseRunJobPayload(input));
    if (this.jobs.has(payload.runId)) {
      throw new ValidationError('payload.runId', `run ${payload.runId} is already queued`);
    }
    const entry: Entry = {
      payload,
      info: { runId: payload.runId, state: 'queued', enqueuedAt: new Date().toISOString() },
      seq: this.seq++,
      cancelRequested: false,
    };
    this.jobs.set(payload.runId, entry);
    this.queued.push(entry);
    this.queued.sort(byPriorityThenSeq);
    this.emit({ runId: payload.runId, type: 'queued' });
    const info = structuredClone(entry.info);
    this.scheduleDispatch();
    return info;
  }

  /** A copy of a job's state, or null. */
  get(runId: string): JobInfo | null {
    const entry = this.jobs.get(runId);
    return entry === undefined ? null : structuredClone(entry.info);
  }

  /** Cancels a queued job now, an active one once its handler settles (see RunQueue.cancel). */
  cancel(runId: string): boolean {
    const entry = this.jobs.get(runId);
    if (entry === undefined) {
      return false;
    }
    if (entry.info.state === 'queued') {
      this.queued = this.queued.filter((e) => e !== entry);
      this.finish(entry, 'cancelled');
      return true;
    }
    if (entry.info.state === 'active') {
      entry.cancelRequested = true;
      entry.controller?.abort(new CancelledError());
      return true;
    }
    return false;
  }

  /** Jobs queued and running now. */
  depth(): { queued: number; active: number } {
    let active = 0;
    this.workers.forEach((w) => (active += w.running.size));
    return { queued: this.queued.length, active };
  }

  /** The workers, as the queue lists them. */
  workerInfos(): WorkerInfo[] {
    return [...this.workers.values()].map((w) => ({
      id: w.id,
      labels: [...w.labels],
      concurrency: w.concurrency,
      active: w.running.size,
      sessions: w.sessions(),
    }));
  }

  /** Calls `listener` for every job event; returns a function that stops it. */
  listen(listener: (e: QueueEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Starts a worker (see QueueBackend.worker); it holds the sessions it says it has. */
  addWorker(options: WorkerOptions): InProcessWorker {
    checkWorkerOptions(options);
    const id = options.id ?? defaultWorkerId();
    if (this.workers.has(id)) {
      throw new ValidationError('id', `a worker with id ${id} is already running`);
    }
    const worker = new InProcessWorker(this, id, options);
    this.workers.set(id, worker);
    for (const session of options.sessions ?? []) {
      this.pins.set(session, id);
      worker.tracker.hold(session);
    }
    this.scheduleDispatch();
    return worker;
  }

  /** Forgets a closed worker. */
  removeWorker(worker: InProcessWorker): void {
    if (this.workers.get(worker.id) === worker) {
      this.workers.delete(worker.id);
    }
  }

  /** Drops the pin of a session when `workerId` holds it; queued jobs of it may go anywhere. */
  unpin(session: string, workerId: string): void {
    if (this.pins.get(session) === workerId) {
      this.pins.delete(session);
      this.scheduleDispatch();
    }
  }

  /** Dispatches queued jobs once, soon (after the current turn). */
  scheduleDispatch(): void {
    if (!this.dispatchScheduled) {
      this.dispatchScheduled = true;
      queueMicrotask(() => {
        this.dispatchScheduled = false;
        this.dispatch();
      });
    }
  }

  /** Starts every queued job that some worker can take now, in priority then FIFO order. */
  private dispatch(): void {
    for (const entry of [...this.queued]) {
      const target = this.target(entry);
      if (target === 'wait') {
        continue;
      }
      this.queued = this.queued.filter((e) => e !== entry);
      if (target instanceof InProcessWorker) {
        this.start(entry, target);
      } else {
        this.finish(entry, 'failed', undefined, jobErrorOf(target));
      }
    }
  }

  /** The worker that takes a job now, 'wait' when none can yet, or why the job cannot run. */
  private target(entry: Entry): InProcessWorker | 'wait' | ValidationError {
    const { labels, session } = entry.payload ?? { labels: [], session: null };
    if (session !== undefined && session !== null) {
      const ownerId = this.pins.get(session);
      const owner = ownerId === undefined ? undefined : this.workers.get(ownerId);
      if (owner !== undefined && !owner.closing) {
        if (!canTake(owner.labels, labels)) {
          return sessionWorkerLacks(session, owner.id, owner.labels, labels);
        }
        return owner.running.size < owner.concurrency ? owner : 'wait';
      }
      if (ownerId !== undefined) {
        this.pins.delete(session);
      }
    }
    let best: InProcessWorker | undefined;
    for (const worker of this.workers.values()) {
      if (worker.closing || worker.running.size >= worker.concurrency) {
        continue;
      }
      if (!canTake(worker.labels, labels)) {
        continue;
      }
      if (best === undefined || worker.running.size < best.running.size) {
        best = worker;
      }
    }
    return best ?? 'wait';
  }

  private start(entry: Entry, worker: InProcessWorker): void {
    const { session } = entry.payload ?? { session: null };
    const controller = new AbortController();
    entry.controller = controller;
    entry.info.state = 'active';
    entry.info.workerId = worker.id;
    entry.info.startedAt = new Date().toISOString();
    worker.running.add(entry);
    if (session !== undefined && session !== null) {
      this.pins.set(session, worker.id);
      worker.tracker.hold(session);
    }
    this.emit({ runId: entry.info.runId, type: 'active', data: { workerId: worker.id } });
    const payload = structuredClone(entry.payload as RunJobPayload);
    const transport: JobTransport = {
      progress: async (data) => {
        this.emit({ runId: entry.info.runId, type: 'progress', data: structuredClone(data) });
      },
      finish: async (outcome) => {
        if ('error' in outcome) {
          this.finish(
            entry,
            entry.cancelRequested ? 'cancelled' : 'failed',
            undefined,
            outcome.error,
          );
          return;
        }
        // Copying a big result (a whole notebook) takes a while: let other requests in
        // before its listeners take their turn with it.
        await new Promise((resolve) => setImmediate(resolve));
        this.finish(entry, entry.cancelRequested ? 'cancelled' : 'completed', outcome.result);
      },
    };
    entry.settled = Promise.resolve()
      .then(() => worker.runner.run(payload, controller.signal, transport))
      .catch((err: unknown) => {
        process.emitWarning(`in-process job ${entry.info.runId}: ${String(err)}`);
      })
      .finally(() => {
        worker.running.delete(entry);
        this.scheduleDispatch();
      });
  }

  private finish(
    entry: Entry,
    state: 'completed' | 'failed' | 'cancelled',
    result?: JSONObject,
    error?: JobError,
  ): void {
    entry.info.state = state;
    entry.info.finishedAt = new Date().toISOString();
    if (result !== undefined) {
      entry.info.result = result;
    }
    if (state === 'failed' && error !== undefined) {
      entry.info.error = error;
    }
    const data =
      state === 'completed'
        ? structuredClone(result)
        : state === 'failed'
          ? { ...entry.info.error }
          : undefined;
    this.emit(
      data === undefined
        ? { runId: entry.info.runId, type: state }
        : { runId: entry.info.runId, type: state, data },
    );
    // A finished job keeps its record; its payload (the notebook) goes now, and its result (the
    // executed notebook and artifacts) once RESULTS_KEPT newer jobs have finished.
    entry.payload = null;
    this.finished.push(entry.info.runId);
    const stale = this.finished[this.finished.length - 1 - RESULTS_KEPT];
    if (stale !== undefined) {
      delete this.jobs.get(stale)?.info.result;
    }
    while (this.finished.length > this.maxFinishedJobs) {
      const old = this.finished.shift();
      if (old !== undefined) {
        this.jobs.delete(old);
      }
    }
  }

  private emit(event: QueueEvent): void {
    this.listeners.emit(event);
  }
}
