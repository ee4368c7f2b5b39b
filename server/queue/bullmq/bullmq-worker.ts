/**
 * A worker of the BullMQ backend. It listens to its own queue (jobs of the sessions it holds) and
 * to the queue of every label set whose labels it all has, discovering new label sets from the
 * registry and from wake-ups on the control channel. Jobs are fetched by hand, one queue after
 * another, only while a slot is free, so one concurrency limit covers every queue. A job of a
 * session another live worker holds is forwarded to that worker's queue. Cancels come on the
 * control channel (and, as a fallback, from the job's record at each tick); locks, the heartbeat
 * and session pins are renewed at each tick.
 */
import { Job, type Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { CancelledError, UnreachableError, ValidationError } from '../../../pipelines/errors';
import { jobErrorOf } from '../job-outcome';
import { JobRunner } from '../job-runner';
import { canTake, defaultWorkerId, labelsOfKey, sessionWorkerLacks } from '../labels';
import { SessionTracker } from '../session-tracker';
import type { JobError, QueueWorker, RunJobPayload, WorkerOptions } from '../types';
import {
  parseControlMessage,
  parseJsonText,
  parseRunJobPayload,
  runIdOfJobData,
  type ControlMessage,
} from '../validate';
import { Wakeup } from '../wakeup';
import { DEFAULT_SESSION_IDLE_MS, checkWorkerOptions } from '../worker-options';
import { closeRedis, connectRedis, waitUntilReady } from './connection';
import { openBullWorker, type BullmqContext } from './context';
import { JobRouter } from './job-router';
import { labelKeyQueueName, parseQueueName, runIdOfJobId, workerQueueName } from './keys';
import { RedisRunStore } from './run-store';

const now = (): string => new Date().toISOString();

/** A job this worker took from BullMQ and has not handed back yet. */
interface Taken {
  queueName: string;
  bull: Worker;
  job: Job;
  token: string;
  runId: string | undefined;
  controller: AbortController;
  /** The handler is running (the record is active and this worker holds it). */
  active: boolean;
  done?: Promise<void>;
}

/** A QueueWorker on Redis through BullMQ. */
export class BullmqQueueWorker implements QueueWorker {
  readonly id: string;
  readonly labels: string[];
  private readonly concurrency: number;
  private readonly runner: JobRunner;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly store: RedisRunStore;
  private readonly router: JobRouter;
  private readonly tracker: SessionTracker;
  private readonly listening = new Map<string, Worker>();
  private readonly opening = new Map<string, Promise<void>>();
  private readonly taken = new Map<string, Taken>();
  private readonly wakeup = new Wakeup();
  private readonly started: Promise<void>;
  private loopDone: Promise<void> = Promise.resolve();
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private ticking: Promise<void> | undefined;
  private discovering: Promise<void> | undefined;
  private rotation = 0;
  private tokens = 0;
  /** Distinguishes the lock tokens of this worker object from those of an earlier one. */
  private readonly session = randomBytes(4).toString('hex');
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
    await this.heartbeat();
    for (const session of sessions) {
      await this.store.pinSession(session, this.id, timings.heartbeatTtlMs);
    }
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.control()) {
        this.onControl(message);
      }
    });
    await this.subscriber.subscribe(keys.control());
    await this.open(workerQueueName(this.id));
    await this.discover();
    if (this.closing) {
      return;
    }
    this.tickTimer = setInterval(() => this.tick(), timings.tickMs);
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
      let taken: Taken | undefined;
      try {
        taken = await this.fetch();
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

  /** The next job of this worker's own queue, else of its label-set queues in turn. */
  private async fetch(): Promise<Taken | undefined> {
    const own = workerQueueName(this.id);
    const others = [...this.listening.keys()].filter((name) => name !== own);
    const start = others.length === 0 ? 0 : this.rotation++ % others.length;
    const order = [own, ...others.slice(start), ...others.slice(0, start)];
    for (const queueName of order) {
      const bull = this.listening.get(queueName);
      if (bull === undefined || this.closing) {
        continue;
      }
      const token = `${this.id}:${++this.tokens}:${this.session}`;
      let job: Job | undefined;
      try {
        job = (await bull.getNextJob(token, { block: false })) as Job | undefined;
      } catch (err) {
        if (!(err instanceof SyntaxError)) {
          throw err;
        }
        await this.refuseUnreadable(bull, token);
        continue;
      }
      if (job !== undefined) {
        const runId = runIdOfJobId(job.id) ?? runIdOfJobData(job.data as unknown);
        return {
          queueName,
          bull,
          job,
          token,
          runId,
          controller: new AbortController(),
          active: false,
        };
      }
    }
    return undefined;
  }

  /** Checks, routes and runs one job, then hands it back to BullMQ. */
  private async process(taken: Taken): Promise<void> {
    const { job, runId } = taken;
    if (runId === undefined) {
      this.context.onError(new Error(`job ${job.id ?? '?'} in ${taken.queueName} is not a run`));
      await this.handBack(taken);
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
        await this.handBack(taken);
        return;
      }
      this.tracker.hold(session);
    }
    if (!(await this.store.activate(runId, this.id, now(), taken.token))) {
      await this.handBack(taken); // cancelled (or ended) while it waited
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
    await this.handBack(taken);
  }

  /** Fails a queued job that cannot run here (invalid payload, missing labels). */
  private async refuse(taken: Taken, runId: string, error: JobError): Promise<void> {
    await this.store.failQueued(runId, error, now());
    await this.handBack(taken);
  }

  /**
   * BullMQ took a job for this worker but could not parse its data (not JSON): find it by the
   * lock this take holds, fail its run with NBSTAGE_VALIDATION and fail the BullMQ job.
   */
  private async refuseUnreadable(bull: Worker, token: string): Promise<void> {
    for (const jobId of await this.redis.lrange(bull.keys.active, 0, -1)) {
      if ((await this.redis.get(`${bull.toKey(jobId)}:lock`)) !== token) {
        continue;
      }
      const message = `invalid payload: the data of job ${jobId} read back from Redis is not JSON`;
      const runId = runIdOfJobId(jobId);
      if (runId !== undefined) {
        const error = jobErrorOf(new ValidationError('payload', message));
        await this.store.failQueued(runId, error, now());
      }
      const job = new Job(bull, 'run', {}, { attempts: 1, removeOnFail: true }, jobId);
      await job.moveToFailed(new Error(message), token, false).catch(this.context.onError);
    }
  }

  /** Tells BullMQ the job is done with (the record, not BullMQ, says how it ended). */
  private async handBack(taken: Taken): Promise<void> {
    try {
      await taken.job.moveToCompleted('done', taken.token, false);
    } catch {
      // The lock was lost (BullMQ's stalled-job check took the job back); nothing to hand back.
    }
  }

  private onControl(text: string): void {
    let message: ControlMessage;
    try {
      message = parseControlMessage(parseJsonText(text, 'control message'));
    } catch (err) {
      this.context.onError(err as Error);
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
    if (this.listening.has(message.queue)) {
      this.wakeup.notify();
      return;
    }
    const target = parseQueueName(message.queue);
    if (target?.kind === 'labels' && canTake(this.labels, labelsOfKey(target.key))) {
      this.open(message.queue).catch(this.context.onError);
    }
  }

  /** Starts listening to every label-set queue this worker may take jobs from. */
  private async discover(): Promise<void> {
    for (const key of await this.store.labelSets()) {
      if (canTake(this.labels, labelsOfKey(key))) {
        await this.open(labelKeyQueueName(key));
      }
    }
  }

  /** Starts listening to one queue (once). */
  private open(queueName: string): Promise<void> {
    if (this.closing || this.listening.has(queueName)) {
      return Promise.resolve();
    }
    let opening = this.opening.get(queueName);
    if (opening === undefined) {
      const onStalled = (runId: string): void => {
        this.store.failLost(runId, now()).catch(this.context.onError);
      };
      opening = openBullWorker(queueName, this.redis, this.context, onStalled, this.id)
        .then(async (bull) => {
          if (this.closing) {
            await bull.close();
            return;
          }
          this.listening.set(queueName, bull);
          this.wakeup.notify();
        })
        .finally(() => this.opening.delete(queueName));
      this.opening.set(queueName, opening);
    }
    return opening;
  }

  /** Renews locks, notices cancels and lost jobs, heartbeats, refreshes session pins. */
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
    const lost = await this.store.refreshSessions(
      this.tracker.list(),
      this.id,
      this.context.timings.heartbeatTtlMs,
    );
    for (const session of lost) {
      if (this.tracker.drop(session)) {
        this.options.onSessionReleased?.(session);
      }
    }
  }

  /** Looks for new label sets (skipped while the previous look runs). */
  private poll(): void {
    this.wakeup.notify();
    if (this.discovering === undefined && !this.closing) {
      this.discovering = this.discover()
        .catch((err: Error) => this.context.onError(err))
        .finally(() => {
          this.discovering = undefined;
        });
    }
  }

  private async renewLocks(): Promise<void> {
    const byQueue = new Map<Worker, Taken[]>();
    for (const taken of this.taken.values()) {
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
    const running = [...this.taken.values()].filter((t) => t.active && t.runId !== undefined);
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

  private async heartbeat(): Promise<void> {
    const active = [...this.taken.values()].filter((t) => t.active).length;
    await this.store.heartbeat(
      {
        id: this.id,
        labels: this.labels,
        concurrency: this.concurrency,
        active,
        sessions: this.tracker.list(),
      },
      this.context.timings.heartbeatTtlMs,
    );
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
    clearInterval(this.tickTimer);
    clearInterval(this.pollTimer);
    await this.ticking;
    await this.discovering;
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
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
    const bulls = [...this.listening.values()];
    this.listening.clear();
    await Promise.all(bulls.map((bull) => bull.close().catch(onError)));
    await this.router.close();
    await Promise.all([closeRedis(this.subscriber), closeRedis(this.redis)]);
  }
}
