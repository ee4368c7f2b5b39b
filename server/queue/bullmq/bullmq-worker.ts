/**
 * A worker of the BullMQ backend. It takes jobs through its {@link JobFetcher} only while a slot
 * is free, discovering new label sets from the registry and from wake-ups on the control channel;
 * checks each job (payload, labels, session) and forwards a job of a session another live worker
 * holds to that worker's queue; runs the rest with the shared {@link JobRunner}. Cancels come on
 * the control channel; locks, the heartbeat and session pins are kept up by its
 * {@link WorkerUpkeep}.
 */
import type Redis from 'ioredis';
import { CancelledError, ValidationError } from '../../../pipelines/errors';
import { jobErrorOf } from '../job-outcome';
import { JobRunner } from '../job-runner';
import { canTake, defaultWorkerId, labelsOfKey, sessionWorkerLacks } from '../labels';
import { SessionTracker } from '../session-tracker';
import type { JobError, QueueWorker, RunJobPayload, WorkerOptions } from '../types';
import { parseControlMessage, parseRunJobPayload, readMessage } from '../validate';
import { Wakeup } from '../wakeup';
import { DEFAULT_SESSION_IDLE_MS, checkWorkerOptions } from '../worker-options';
import { closeRedis, connectRedis, waitUntilReady } from './connection';
import type { BullmqContext } from './context';
import { JobFetcher, type TakenJob } from './job-fetcher';
import { JobRouter } from './job-router';
import { parseQueueName, workerQueueName } from './keys';
import { RedisRunStore } from './run-store';
import { WorkerUpkeep } from './worker-upkeep';

const now = (): string => new Date().toISOString();

/** A QueueWorker on Redis through BullMQ. */
export class BullmqQueueWorker implements QueueWorker {
  readonly id: string;
  readonly labels: string[];
  private readonly concurrency: number;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly store: RedisRunStore;
  private readonly router: JobRouter;
  private readonly tracker: SessionTracker;
  private readonly runner: JobRunner;
  private readonly fetcher: JobFetcher;
  private readonly upkeep: WorkerUpkeep;
  private readonly taken = new Map<string, TakenJob>();
  private readonly wakeup = new Wakeup();
  private readonly started: Promise<void>;
  private loopDone: Promise<void> = Promise.resolve();
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private discovering: Promise<void> | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly context: BullmqContext,
    private readonly options: WorkerOptions,
  ) {
    checkWorkerOptions(options);
    this.id = options.id ?? defaultWorkerId();
    this.labels = [...new Set(options.labels)];
    this.concurrency = options.concurrency;
    this.redis = connectRedis(context.url, context.onError);
    this.subscriber = connectRedis(context.url, context.onError);
    this.store = new RedisRunStore(this.redis, context.keys, context.timings.retainFinishedMs);
    this.router = new JobRouter(this.redis, context.keys, this.store, context.onError);
    this.tracker = new SessionTracker(options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS, (s) => {
      this.releaseSession(s).catch(context.onError);
    });
    this.runner = new JobRunner({
      handler: options.handler,
      tracker: this.tracker,
      releaseSession: (session) => this.releaseSession(session),
    });
    this.fetcher = new JobFetcher(this.id, this.redis, this.store, context, () =>
      this.wakeup.notify(),
    );
    this.upkeep = new WorkerUpkeep(
      {
        id: this.id,
        labels: this.labels,
        concurrency: this.concurrency,
        tracker: this.tracker,
        taken: () => [...this.taken.values()],
        onSessionLost: (session) => {
          Promise.resolve(options.onSessionReleased?.(session)).catch(context.onError);
        },
      },
      this.store,
      context,
    );
    this.started = this.start();
    this.started.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.started;
  }

  sessions(): string[] {
    return this.tracker.list();
  }

  async releaseSession(session: string): Promise<void> {
    const held = this.tracker.drop(session);
    await this.store.releaseSession(session, this.id);
    if (held) {
      await this.options.onSessionReleased?.(session);
    }
  }

  close(): Promise<void> {
    if (this.closed === undefined) {
      this.closing = true;
      this.fetcher.stop();
      this.wakeup.notify();
      this.closed = this.shutdown();
    }
    return this.closed;
  }

  private async start(): Promise<void> {
    const { timings, keys } = this.context;
    await waitUntilReady(this.redis, this.context.url, timings.connectTimeoutMs);
    await waitUntilReady(this.subscriber, this.context.url, timings.connectTimeoutMs);
    const sessions = this.options.sessions ?? [];
    sessions.forEach((session) => this.tracker.hold(session));
    await this.upkeep.heartbeat();
    for (const session of sessions) {
      await this.store.pinSession(session, this.id, timings.heartbeatTtlMs);
    }
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.control()) {
        this.onControl(message);
      }
    });
    await this.subscriber.subscribe(keys.control());
    await this.fetcher.open(workerQueueName(this.id));
    await this.fetcher.discover(this.labels);
    if (this.closing) {
      return;
    }
    this.upkeep.start();
    this.pollTimer = setInterval(() => this.poll(), timings.pollMs);
    this.loopDone = this.loop();
  }

  /** Takes jobs while there is a free slot; sleeps until woken (or the poll interval) else. */
  private async loop(): Promise<void> {
    const { pollMs } = this.context.timings;
    while (!this.closing) {
      if (this.taken.size >= this.concurrency) {
        await this.wakeup.wait(pollMs);
        continue;
      }
      this.wakeup.reset();
      let taken: TakenJob | undefined;
      try {
        taken = await this.fetcher.next();
      } catch (err) {
        this.context.onError(err as Error);
      }
      if (taken === undefined) {
        await this.wakeup.wait(pollMs);
        continue;
      }
      const entry = taken;
      this.taken.set(entry.token, entry);
      entry.done = this.process(entry)
        .catch((err: Error) => this.context.onError(err))
        .finally(() => {
          this.taken.delete(entry.token);
          this.wakeup.notify();
        });
    }
  }

  /** Checks, routes and runs one job, then hands it back to BullMQ. */
  private async process(taken: TakenJob): Promise<void> {
    const { job, runId } = taken;
    if (runId === undefined) {
      this.context.onError(new Error(`job ${job.id ?? '?'} in ${taken.queueName} is not a run`));
      await this.fetcher.handBack(taken);
      return;
    }
    if (job.deferredFailure) {
      // BullMQ found the job stalled: the worker that took it stopped, or lost the reply of its
      // take (Redis went away). The record tells which: a run that was active has failed; one
      // that never started is still queued and runs now, like any other.
      await this.store.failLost(runId, now());
    }
    let payload: RunJobPayload;
    try {
      payload = parseRunJobPayload(job.data as unknown);
      if (payload.runId !== runId) {
        throw new ValidationError(
          'payload.runId',
          `invalid payload: payload.runId ${payload.runId} is not the job's run ${runId}`,
        );
      }
    } catch (err) {
      await this.refuse(taken, runId, jobErrorOf(err));
      return;
    }
    if (!canTake(this.labels, payload.labels)) {
      const lacks = sessionWorkerLacks(payload.session ?? '', this.id, this.labels, payload.labels);
      await this.refuse(taken, runId, jobErrorOf(lacks));
      return;
    }
    const session = payload.session ?? undefined;
    if (session !== undefined) {
      const ttl = this.context.timings.heartbeatTtlMs;
      const owner = await this.store.claimSession(session, this.id, ttl);
      if (owner !== this.id) {
        await this.router.forward(payload, owner);
        await this.fetcher.handBack(taken);
        return;
      }
      this.tracker.hold(session);
    }
    if (!(await this.store.activate(runId, this.id, now(), taken.token))) {
      await this.fetcher.handBack(taken); // cancelled (or ended) while it waited
      return;
    }
    taken.active = true;
    await this.runner.run(payload, taken.controller.signal, {
      progress: (data) => this.store.publishEvent({ runId, type: 'progress', data }),
      finish: async (outcome) => {
        taken.active = false;
        await this.store.finish(runId, this.id, outcome, now());
      },
    });
    await this.fetcher.handBack(taken);
  }

  /** Fails a queued job that cannot run here (invalid payload, missing labels). */
  private async refuse(taken: TakenJob, runId: string, error: JobError): Promise<void> {
    await this.store.failQueued(runId, error, now());
    await this.fetcher.handBack(taken);
  }

  private onControl(text: string): void {
    const message = readMessage(text, 'control message', parseControlMessage, this.context.onError);
    if (message === undefined) {
      return;
    }
    if (message.type === 'cancel') {
      for (const taken of this.taken.values()) {
        if (taken.runId === message.runId) {
          taken.controller.abort(new CancelledError());
        }
      }
      return;
    }
    if (this.fetcher.listens(message.queue)) {
      this.wakeup.notify();
      return;
    }
    const target = parseQueueName(message.queue);
    if (target?.kind === 'labels' && canTake(this.labels, labelsOfKey(target.key))) {
      this.fetcher.open(message.queue).catch(this.context.onError);
    }
  }

  /** Looks for new label sets (skipped while the previous look runs). */
  private poll(): void {
    this.wakeup.notify();
    if (this.discovering === undefined && !this.closing) {
      this.discovering = this.fetcher
        .discover(this.labels)
        .catch((err: Error) => this.context.onError(err))
        .finally(() => {
          this.discovering = undefined;
        });
    }
  }

  /**
   * Stops fetching, lets running handlers finish (locks still renewed), releases sessions, moves
   * jobs left in its own queue elsewhere, and closes its connections.
   */
  private async shutdown(): Promise<void> {
    const onError = this.context.onError;
    await this.started.catch(() => undefined);
    await this.loopDone;
    await Promise.all([...this.taken.values()].map((t) => t.done));
    clearInterval(this.pollTimer);
    await this.upkeep.stop();
    await this.discovering;
    if (this.redis.status === 'ready') {
      try {
        for (const session of this.tracker.list()) {
          await this.releaseSession(session);
        }
        await this.store.dropHeartbeat(this.id);
        if ((await this.router.rescue(this.id, now)) === 0) {
          await this.router.drop(this.id);
          await this.store.unregisterWorker(this.id);
        }
      } catch (err) {
        onError(err as Error);
      }
    }
    this.tracker.clear();
    await this.fetcher.close();
    await this.router.close();
    await Promise.all([closeRedis(this.subscriber), closeRedis(this.redis)]);
  }
}
