/**
 * nbstage's own state in Redis, beside BullMQ's: one record per job (the truth about its state;
 * BullMQ only hands jobs to workers), the queued/active sets behind `depth()`, the label-set
 * registry, session pins and worker heartbeats. Every state change is one Lua script that checks
 * the current state, writes the new one and publishes the event, so a cancel racing a worker's
 * pick-up, or a stalled-job check racing the worker's own finish, has exactly one winner and the
 * events of a job come out in order.
 */
import { createHash, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { JobOutcome } from '../job-outcome';
import type { JobError, JobInfo, QueueEvent, WorkerInfo } from '../types';
import { parseJobInfo, parseJsonText, parseWorkerInfo, type ControlMessage } from '../validate';
import type { RedisKeys } from './keys';

/** The code of a job whose worker stopped responding (its kernel is gone with it). */
export const WORKER_LOST_CODE = 'NBSTAGE_KERNEL_DIED';

/** A Lua script run by its SHA1, loaded again when Redis lost it (after a restart). */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}

// The scripts that create or activate are idempotent for their caller (same nonce or token):
// ioredis sends a command again after a reconnect when its reply was lost with the connection.

// KEYS: run, queued set. ARGV: runId, queue, enqueuedAt, events channel, event, nonce.
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'nonce') == ARGV[6] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'runId', ARGV[1], 'state', 'queued', 'queue', ARGV[2],
  'enqueuedAt', ARGV[3], 'nonce', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

// KEYS: run. ARGV: queue. Moves a queued job's record to another BullMQ queue.
const SET_QUEUE = new LuaScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'queue', ARGV[1])
return 1`);

// KEYS: run, queued set, active set. ARGV: runId, workerId, startedAt, events channel, event,
// token (of this take of the job).
const ACTIVATE = new LuaScript(`
local s = redis.call('HMGET', KEYS[1], 'state', 'token')
if s[1] == 'active' and s[2] == ARGV[6] then return 1 end
if s[1] ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'active', 'workerId', ARGV[2], 'startedAt', ARGV[3],
  'token', ARGV[6])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

// KEYS: run, active set. ARGV: runId, workerId, outcome, finishedAt, result JSON or '',
// error JSON or '', events channel, outcome event, cancelled event, retain ms.
const FINISH = new LuaScript(`
local s = redis.call('HMGET', KEYS[1], 'state', 'workerId', 'cancel')
if s[1] ~= 'active' or s[2] ~= ARGV[2] then return false end
local state, event = ARGV[3], ARGV[8]
if s[3] == '1' then state, event = 'cancelled', ARGV[9] end
redis.call('HSET', KEYS[1], 'state', state, 'finishedAt', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[5]) end
if state == 'failed' then redis.call('HSET', KEYS[1], 'error', ARGV[6]) end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[10])
redis.call('PUBLISH', ARGV[7], event)
return state`);

// KEYS: run, queued set. ARGV: runId, finishedAt, error JSON, events channel, event, retain ms.
const FAIL_QUEUED = new LuaScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'failed', 'finishedAt', ARGV[2], 'error', ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

// KEYS: run, queued set. ARGV: runId, finishedAt, events channel, event, retain ms.
const CANCEL = new LuaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[2])
  redis.call('SREM', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 'cancelled'
end
if state == 'active' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  return 'requested'
end
return 'none'`);

// KEYS: run, active set. ARGV: runId, finishedAt, events channel, retain ms, code, worker id
// expected ('' for any). Fails an active job whose worker stopped responding.
const FAIL_LOST = new LuaScript(`
local s = redis.call('HMGET', KEYS[1], 'state', 'workerId', 'cancel')
if s[1] ~= 'active' then return false end
if ARGV[6] ~= '' and s[2] ~= ARGV[6] then return false end
local state = 'failed'
local event
if s[3] == '1' then
  state = 'cancelled'
  event = cjson.encode({runId = ARGV[1], type = 'cancelled'})
  redis.call('HSET', KEYS[1], 'state', state, 'finishedAt', ARGV[2])
else
  local err = {code = ARGV[5], message = 'worker ' .. tostring(s[2]) .. ' stopped responding'}
  event = cjson.encode({runId = ARGV[1], type = 'failed', data = err})
  redis.call('HSET', KEYS[1], 'state', state, 'finishedAt', ARGV[2], 'error', cjson.encode(err))
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[3], event)
return state`);

// KEYS: session. ARGV: workerId, ttl ms, worker key prefix. The owner after the claim: the
// caller, or another worker that holds the session and is alive.
const CLAIM_SESSION = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return owner
end
if owner and redis.call('EXISTS', ARGV[3] .. owner) == 1 then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`);

// KEYS: session. ARGV: worker key prefix. The live owner of a session, dropping a dead one's pin.
const SESSION_OWNER = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if not owner then return false end
if redis.call('EXISTS', ARGV[1] .. owner) == 1 then return owner end
redis.call('DEL', KEYS[1])
return false`);

// KEYS: sessions. ARGV: workerId, ttl ms. Refreshes (or takes back, if it expired) the pins of
// a worker; returns the 1-based indexes of the sessions another worker holds now.
const REFRESH_SESSIONS = new LuaScript(`
local lost = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not owner then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost`);

// KEYS: session. ARGV: workerId.
const RELEASE_SESSION = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

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
