/**
 * The Lua scripts behind nbstage's state in Redis (run-store.ts): each state change of a job
 * record, session pin or label-set registry entry is one script that checks the current state,
 * writes the new one and publishes the event, so that racing callers have exactly one winner.
 */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/** A Lua script run by its SHA1, loaded again when Redis lost it (after a restart). */
export class LuaScript {
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

/** KEYS: run, queued set. ARGV: runId, queue, enqueuedAt, events channel, event, nonce. */
export const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'nonce') == ARGV[6] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'runId', ARGV[1], 'state', 'queued', 'queue', ARGV[2],
  'enqueuedAt', ARGV[3], 'nonce', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

/** KEYS: run. ARGV: queue. Moves a queued job's record to another BullMQ queue. */
export const SET_QUEUE = new LuaScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'queue', ARGV[1])
return 1`);

/**
 * KEYS: run, queued set, active set. ARGV: runId, workerId, startedAt, events channel, event,
 * token (of this take of the job).
 */
export const ACTIVATE = new LuaScript(`
local s = redis.call('HMGET', KEYS[1], 'state', 'token')
if s[1] == 'active' and s[2] == ARGV[6] then return 1 end
if s[1] ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'active', 'workerId', ARGV[2], 'startedAt', ARGV[3],
  'token', ARGV[6])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

/**
 * KEYS: run, active set. ARGV: runId, workerId, outcome, finishedAt, result JSON or '',
 * error JSON or '', events channel, outcome event, cancelled event, retain ms.
 */
export const FINISH = new LuaScript(`
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

/** KEYS: run, queued set. ARGV: runId, finishedAt, error JSON, events channel, event, retain ms. */
export const FAIL_QUEUED = new LuaScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'failed', 'finishedAt', ARGV[2], 'error', ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`);

/** KEYS: run, queued set. ARGV: runId, finishedAt, events channel, event, retain ms. */
export const CANCEL = new LuaScript(`
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

/**
 * KEYS: run, active set. ARGV: runId, finishedAt, events channel, retain ms, code, worker id
 * expected ('' for any). Fails an active job whose worker stopped responding.
 */
export const FAIL_LOST = new LuaScript(`
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

/**
 * KEYS: session. ARGV: workerId, ttl ms, worker key prefix. The owner after the claim: the
 * caller, or another worker that holds the session and is alive.
 */
export const CLAIM_SESSION = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return owner
end
if owner and redis.call('EXISTS', ARGV[3] .. owner) == 1 then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`);

/** KEYS: session. ARGV: worker key prefix. The live owner of a session, dropping a dead one's pin. */
export const SESSION_OWNER = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if not owner then return false end
if redis.call('EXISTS', ARGV[1] .. owner) == 1 then return owner end
redis.call('DEL', KEYS[1])
return false`);

/**
 * KEYS: sessions. ARGV: workerId, ttl ms. Refreshes (or takes back, if it expired) the pins of
 * a worker; returns the 1-based indexes of the sessions another worker holds now.
 */
export const REFRESH_SESSIONS = new LuaScript(`
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

/** KEYS: session. ARGV: workerId. */
export const RELEASE_SESSION = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);
