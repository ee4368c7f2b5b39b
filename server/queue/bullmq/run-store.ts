/**
 * nbstage's own state in Redis, beside BullMQ's: one record per job (the truth about its state;
 * BullMQ only hands jobs to workers), the queued/active sets behind `depth()`, the label-set
 * registry, session pins and worker heartbeats. Every state change is one Lua script
 * (run-scripts.ts) that checks the current state, writes the new one and publishes the event, so
 * a cancel racing a worker's pick-up, or a stalled-job check racing the worker's own finish, has
 * exactly one winner and the events of a job come out in order.
 */
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { ErrorCode } from '../../../pipelines/errors';
import type { JobOutcome } from '../job-outcome';
import type { JobError, JobInfo, QueueEvent, WorkerInfo } from '../types';
import { parseJobInfo, parseJsonText, parseWorkerInfo, type ControlMessage } from '../validate';
import type { RedisKeys } from './keys';
import {
  CREATE,
  SET_QUEUE,
  ACTIVATE,
  FINISH,
  FAIL_QUEUED,
  CANCEL,
  FAIL_LOST,
  CLAIM_SESSION,
  SESSION_OWNER,
  REFRESH_SESSIONS,
  RELEASE_SESSION,
} from './run-scripts';

/** The code of a job whose worker stopped responding (its kernel is gone with it). */
export const WORKER_LOST_CODE = ErrorCode.kernelDied;

/**
 * What a job's record in Redis says about it, as a worker checks its running jobs at each tick
 * (not the run's own status, which is the executor's `RunStatus`).
 */
export interface StoredRunState {
  /** The record's job state; null when the record is gone. */
  state: string | null;
  /** Whether a cancel was asked for. */
  cancelRequested: boolean;
}

/** Typed access to nbstage's state in Redis. The Redis connection is the caller's. */
export class RedisRunStore {
  /**
   * @param redis - a connection with `maxRetriesPerRequest: null`, so that calls wait through a
   *   Redis restart instead of failing
   * @param keys - the key names
   * @param retainFinishedMs - how long a finished job's record is kept
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retainFinishedMs: number,
  ) {}

  /** Creates the record of a queued job and publishes `queued`; false when the id is taken. */
  async create(runId: string, queue: string, enqueuedAt: string): Promise<boolean> {
    const event = JSON.stringify({ runId, type: 'queued' });
    const created = await CREATE.run(
      this.redis,
      [this.keys.run(runId), this.keys.state('queued')],
      [runId, queue, enqueuedAt, this.keys.events(), event, randomUUID()],
    );
    return created === 1;
  }

  /** Notes that a queued job now waits in another BullMQ queue. */
  async setQueue(runId: string, queue: string): Promise<void> {
    await SET_QUEUE.run(this.redis, [this.keys.run(runId)], [queue]);
  }

  /** The BullMQ queue a job waits (or waited) in. */
  async queueOf(runId: string): Promise<string | null> {
    return this.redis.hget(this.keys.run(runId), 'queue');
  }

  /** A job's record, validated; null when there is none. */
  async get(runId: string): Promise<JobInfo | null> {
    const hash = await this.redis.hgetall(this.keys.run(runId));
    if (Object.keys(hash).length === 0) {
      return null;
    }
    const info: Record<string, unknown> = { runId: hash.runId, state: hash.state };
    for (const field of ['workerId', 'enqueuedAt', 'startedAt', 'finishedAt'] as const) {
      if (hash[field] !== undefined) {
        info[field] = hash[field];
      }
    }
    if (hash.result !== undefined) {
      info.result = parseJsonText(hash.result, 'job.result');
    }
    if (hash.error !== undefined) {
      info.error = parseJsonText(hash.error, 'job.error');
    }
    return parseJobInfo(info);
  }

  /**
   * queued -> active for `workerId`, publishing `active`; false when the job is not queued.
   * `token` names this take of the job (a resent activation is not refused).
   */
  async activate(
    runId: string,
    workerId: string,
    startedAt: string,
    token: string,
  ): Promise<boolean> {
    const event = JSON.stringify({ runId, type: 'active', data: { workerId } });
    const done = await ACTIVATE.run(
      this.redis,
      [this.keys.run(runId), this.keys.state('queued'), this.keys.state('active')],
      [runId, workerId, startedAt, this.keys.events(), event, token],
    );
    return done === 1;
  }

  /**
   * active -> completed/failed (or cancelled, when a cancel was asked for), publishing the event.
   * Only the worker that holds the job may finish it; null when it did not (any more).
   */
  async finish(
    runId: string,
    workerId: string,
    outcome: JobOutcome,
    finishedAt: string,
  ): Promise<'completed' | 'failed' | 'cancelled' | null> {
    const completed = 'result' in outcome;
    const result = completed ? JSON.stringify(outcome.result) : '';
    const error = completed ? '' : JSON.stringify(outcome.error);
    const event: QueueEvent = completed
      ? { runId, type: 'completed', data: outcome.result }
      : { runId, type: 'failed', data: { ...outcome.error } };
    const state = await FINISH.run(
      this.redis,
      [this.keys.run(runId), this.keys.state('active')],
      [
        runId,
        workerId,
        completed ? 'completed' : 'failed',
        finishedAt,
        result,
        error,
        this.keys.events(),
        JSON.stringify(event),
        JSON.stringify({ runId, type: 'cancelled' }),
        this.retainFinishedMs,
      ],
    );
    return state === 'completed' || state === 'failed' || state === 'cancelled' ? state : null;
  }

  /** queued -> failed (a payload that cannot run); false when the job is not queued. */
  async failQueued(runId: string, error: JobError, finishedAt: string): Promise<boolean> {
    const event = JSON.stringify({ runId, type: 'failed', data: { ...error } });
    const done = await FAIL_QUEUED.run(
      this.redis,
      [this.keys.run(runId), this.keys.state('queued')],
      [runId, finishedAt, JSON.stringify(error), this.keys.events(), event, this.retainFinishedMs],
    );
    return done === 1;
  }

  /** Cancels a queued job at once, or flags an active one; 'none' when it is neither. */
  async cancel(runId: string, finishedAt: string): Promise<'cancelled' | 'requested' | 'none'> {
    const outcome = await CANCEL.run(
      this.redis,
      [this.keys.run(runId), this.keys.state('queued')],
      [
        runId,
        finishedAt,
        this.keys.events(),
        JSON.stringify({ runId, type: 'cancelled' }),
        this.retainFinishedMs,
      ],
    );
    return outcome === 'cancelled' || outcome === 'requested' ? outcome : 'none';
  }

  /**
   * Fails an active job whose worker stopped responding ("worker <id> stopped responding"), or
   * cancels it when a cancel was asked for. With `workerId`, only when that worker holds it.
   */
  async failLost(runId: string, finishedAt: string, workerId = ''): Promise<boolean> {
    const state = await FAIL_LOST.run(
      this.redis,
      [this.keys.run(runId), this.keys.state('active')],
      [runId, finishedAt, this.keys.events(), this.retainFinishedMs, WORKER_LOST_CODE, workerId],
    );
    return state === 'failed' || state === 'cancelled';
  }

  /** The state and cancel flag of each job, in order. */
  async states(runIds: string[]): Promise<StoredRunState[]> {
    const pipeline = this.redis.pipeline();
    runIds.forEach((runId) => pipeline.hmget(this.keys.run(runId), 'state', 'cancel'));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err !== null || !Array.isArray(reply)) {
        return { state: null, cancelRequested: false };
      }
      const [state, cancel] = reply as (string | null)[];
      return { state: state ?? null, cancelRequested: cancel === '1' };
    });
  }

  /** The active jobs of one worker. */
  async activeRunsOf(workerId: string): Promise<string[]> {
    const runIds = await this.redis.smembers(this.keys.state('active'));
    const pipeline = this.redis.pipeline();
    runIds.forEach((runId) => pipeline.hget(this.keys.run(runId), 'workerId'));
    const owners = (await pipeline.exec()) ?? [];
    return runIds.filter((_, i) => owners[i]?.[1] === workerId);
  }

  /** How many jobs are queued and active. */
  async depth(): Promise<{ queued: number; active: number }> {
    const [queued, active] = await Promise.all([
      this.redis.scard(this.keys.state('queued')),
      this.redis.scard(this.keys.state('active')),
    ]);
    return { queued, active };
  }

  /** Publishes a job event that changes no state (progress). */
  async publishEvent(event: QueueEvent): Promise<void> {
    await this.redis.publish(this.keys.events(), JSON.stringify(event));
  }

  /** Publishes a control message to every worker and queue. */
  async publishControl(message: ControlMessage): Promise<void> {
    await this.redis.publish(this.keys.control(), JSON.stringify(message));
  }

  /** Registers a label-set key; true when it is new. */
  async addLabelSet(key: string): Promise<boolean> {
    return (await this.redis.sadd(this.keys.labelSets(), key)) === 1;
  }

  /** Every label-set key jobs were enqueued with. */
  async labelSets(): Promise<string[]> {
    return this.redis.smembers(this.keys.labelSets());
  }

  /** The worker holding a session and alive, or null (a dead worker's pin is dropped). */
  async sessionOwner(session: string): Promise<string | null> {
    const owner = await SESSION_OWNER.run(
      this.redis,
      [this.keys.session(session)],
      [this.keys.workerPrefix()],
    );
    return typeof owner === 'string' ? owner : null;
  }

  /** Claims a session for `workerId` unless a live worker holds it; returns the holder. */
  async claimSession(session: string, workerId: string, ttlMs: number): Promise<string> {
    const owner = await CLAIM_SESSION.run(
      this.redis,
      [this.keys.session(session)],
      [workerId, ttlMs, this.keys.workerPrefix()],
    );
    return typeof owner === 'string' ? owner : workerId;
  }

  /** Pins a session to `workerId`, whoever held it (a worker that kept the kernel). */
  async pinSession(session: string, workerId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.session(session), workerId, 'PX', ttlMs);
  }

  /** Refreshes the pins of a worker's sessions; returns those another worker holds now. */
  async refreshSessions(sessions: string[], workerId: string, ttlMs: number): Promise<string[]> {
    if (sessions.length === 0) {
      return [];
    }
    const lost = await REFRESH_SESSIONS.run(
      this.redis,
      sessions.map((s) => this.keys.session(s)),
      [workerId, ttlMs],
    );
    return Array.isArray(lost) ? lost.map((i) => sessions[Number(i) - 1] ?? '') : [];
  }

  /** Drops a session's pin when `workerId` holds it. */
  async releaseSession(session: string, workerId: string): Promise<void> {
    await RELEASE_SESSION.run(this.redis, [this.keys.session(session)], [workerId]);
  }

  /** Writes a worker's heartbeat, alive for `ttlMs`, and registers it. */
  async heartbeat(info: WorkerInfo, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.worker(info.id), JSON.stringify(info), 'PX', ttlMs)
      .sadd(this.keys.workers(), info.id)
      .exec();
  }

  /** True while a worker's heartbeat has not expired. */
  async isAlive(workerId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.worker(workerId))) === 1;
  }

  /** Deletes a worker's heartbeat (it stopped). */
  async dropHeartbeat(workerId: string): Promise<void> {
    await this.redis.del(this.keys.worker(workerId));
  }

  /** Forgets a worker that stopped and whose queue is empty. */
  async unregisterWorker(workerId: string): Promise<void> {
    await this.redis.srem(this.keys.workers(), workerId);
  }

  /** Ids of every registered worker, alive or not yet swept. */
  async workerIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.workers());
  }

  /** The workers alive now, from their heartbeats (a corrupt heartbeat is skipped). */
  async workerInfos(): Promise<WorkerInfo[]> {
    const ids = (await this.workerIds()).sort();
    if (ids.length === 0) {
      return [];
    }
    const values = await this.redis.mget(ids.map((id) => this.keys.worker(id)));
    const infos: WorkerInfo[] = [];
    for (const value of values) {
      if (value === null) {
        continue;
      }
      try {
        infos.push(parseWorkerInfo(parseJsonText(value, 'worker')));
      } catch {
        // A heartbeat that does not validate says nothing reliable about that worker.
      }
    }
    return infos;
  }
}
