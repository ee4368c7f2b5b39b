/**
 * What a BullMQ worker renews at each tick, as BullMQ's own lock manager does for its worker: the
 * locks of its jobs, its heartbeat and its session pins; and what it notices then: runs cancelled
 * (should the control message have been missed) or ended by the queue, and sessions it lost.
 */
import { CancelledError, UnreachableError } from '../../../pipelines/errors';
import type { SessionTracker } from '../session-tracker';
import type { BullmqContext } from './context';
import type { TakenJob } from './job-fetcher';
import type { RedisRunStore } from './run-store';

/** What {@link WorkerUpkeep} keeps up for. */
export interface UpkeepTarget {
  id: string;
  labels: string[];
  concurrency: number;
  tracker: SessionTracker;
  /** The jobs the worker holds now. */
  taken(): TakenJob[];
  /** Called for a session whose pin another worker got (the kernel can go). */
  onSessionLost(session: string): void;
}

/** The tick of one BullMQ worker. */
export class WorkerUpkeep {
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly target: UpkeepTarget,
    private readonly store: RedisRunStore,
    private readonly context: BullmqContext,
  ) {}

  /** Ticks every `tickMs` from now on. */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.context.timings.tickMs);
  }

  /** Stops ticking and waits for a tick under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** Tells the queue this worker is alive, with its labels, load and sessions. */
  async heartbeat(): Promise<void> {
    const { id, labels, concurrency, tracker } = this.target;
    const active = this.target.taken().filter((t) => t.active).length;
    await this.store.heartbeat(
      { id, labels, concurrency, active, sessions: tracker.list() },
      this.context.timings.heartbeatTtlMs,
    );
  }

  /** One tick, skipped while the previous one runs. */
  private tick(): void {
    if (this.ticking === undefined) {
      this.ticking = this.tickOnce()
        .catch((err: Error) => this.context.onError(err))
        .finally(() => {
          this.ticking = undefined;
        });
    }
  }

  private async tickOnce(): Promise<void> {
    await this.renewLocks();
    await this.checkRecords();
    await this.heartbeat();
    const { id, tracker } = this.target;
    const ttl = this.context.timings.heartbeatTtlMs;
    for (const session of await this.store.refreshSessions(tracker.list(), id, ttl)) {
      if (tracker.drop(session)) {
        this.target.onSessionLost(session);
      }
    }
  }

  private async renewLocks(): Promise<void> {
    const byQueue = new Map<TakenJob['bull'], TakenJob[]>();
    for (const taken of this.target.taken()) {
      byQueue.set(taken.bull, [...(byQueue.get(taken.bull) ?? []), taken]);
    }
    for (const [bull, list] of byQueue) {
      await bull.extendJobLocks(
        list.map((t) => t.job.id ?? ''),
        list.map((t) => t.token),
        this.context.timings.lockDurationMs,
      );
    }
  }

  /** Aborts handlers whose run was cancelled, or ended by the queue (declared stalled). */
  private async checkRecords(): Promise<void> {
    const running = this.target.taken().filter((t) => t.active && t.runId !== undefined);
    if (running.length === 0) {
      return;
    }
    const states = await this.store.states(running.map((t) => t.runId ?? ''));
    running.forEach((taken, i) => {
      const stored = states[i];
      if (stored === undefined || taken.controller.signal.aborted) {
        return;
      }
      if (stored.cancelRequested) {
        taken.controller.abort(new CancelledError());
      } else if (stored.state !== 'active') {
        taken.controller.abort(
          new UnreachableError(
            `the queue ended run ${taken.runId ?? ''} (${stored.state ?? 'gone'})`,
          ),
        );
      }
    });
  }
}
