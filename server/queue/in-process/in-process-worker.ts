/**
 * A worker of the in-process backend: its labels, slots and sessions. Its hub hands it jobs; it
 * runs them with the shared job runner.
 */
import { JobRunner } from '../job-runner';
import { SessionTracker } from '../session-tracker';
import type { QueueWorker, WorkerOptions } from '../types';
import { DEFAULT_SESSION_IDLE_MS } from '../worker-options';

/** A job the worker runs, as far as the worker is concerned. */
export interface RunningJob {
  /** Settles when the job has been run and its end recorded. */
  settled?: Promise<void>;
}

/** What a worker asks of its hub. */
export interface WorkerHub {
  /** Drops the pin of a session when `workerId` holds it. */
  unpin(session: string, workerId: string): void;
  /** Forgets a closed worker. */
  removeWorker(worker: InProcessWorker): void;
  /** Dispatches queued jobs soon. */
  scheduleDispatch(): void;
}

/** A worker of the in-process hub. */
export class InProcessWorker implements QueueWorker {
  readonly id: string;
  readonly labels: string[];
  readonly concurrency: number;
  readonly running = new Set<RunningJob>();
  readonly tracker: SessionTracker;
  readonly runner: JobRunner;
  closing = false;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly hub: WorkerHub,
    id: string,
    private readonly options: WorkerOptions,
  ) {
    this.id = id;
    this.labels = [...new Set(options.labels)];
    this.concurrency = options.concurrency;
    this.tracker = new SessionTracker(options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS, (s) => {
      void this.releaseSession(s);
    });
    this.runner = new JobRunner({
      handler: options.handler,
      tracker: this.tracker,
      releaseSession: (session) => this.releaseSession(session),
    });
  }

  async ready(): Promise<void> {}

  sessions(): string[] {
    return this.tracker.list();
  }

  async releaseSession(session: string): Promise<void> {
    this.hub.unpin(session, this.id);
    if (this.tracker.drop(session)) {
      await this.options.onSessionReleased?.(session);
    }
  }

  close(): Promise<void> {
    if (this.closed === undefined) {
      this.closing = true;
      this.closed = (async () => {
        await Promise.all([...this.running].map((entry) => entry.settled));
        this.hub.removeWorker(this);
        for (const session of this.tracker.list()) {
          await this.releaseSession(session);
        }
        this.hub.scheduleDispatch();
      })();
    }
    return this.closed;
  }
}
