/**
 * The limits of authentication, each set by a variable in the environment of `nbstage serve`
 * (an empty one means the default) and checked when the service starts: failed attempts per
 * client, run streams (websockets) open at once per token, and the life and number of login
 * sessions.
 */
import { UsageError } from '../../pipelines/errors';

/** What the limits are. */
export interface AuthLimits {
  /**
   * Failed authentications a client (an IPv4 address, an IPv6 /64) may make in a burst; it
   * regains as many per minute. Past them every attempt of that client is answered 429 until
   * it has regained one. `NBSTAGE_AUTH_FAILURES_PER_MINUTE`, default 20.
   */
  authFailuresPerMinute: number;
  /**
   * Run streams (websockets) one token may hold open at once, its login sessions' included.
   * `NBSTAGE_MAX_STREAMS_PER_TOKEN`, default 64.
   */
  maxStreamsPerToken: number;
  /** Seconds a login session lasts from logging in. `NBSTAGE_SESSION_SECONDS`, default 43 200. */
  sessionSeconds: number;
  /** Login sessions kept at most, the oldest ending first. `NBSTAGE_MAX_SESSIONS`, default 10000. */
  maxSessions: number;
}

/** The defaults of {@link AuthLimits}. */
export const DEFAULT_AUTH_LIMITS: Readonly<AuthLimits> = {
  authFailuresPerMinute: 20,
  maxStreamsPerToken: 64,
  sessionSeconds: 12 * 60 * 60,
  maxSessions: 10_000,
};

/** Each limit's variable. */
export const AUTH_LIMIT_VARIABLES: Readonly<Record<keyof AuthLimits, string>> = {
  authFailuresPerMinute: 'NBSTAGE_AUTH_FAILURES_PER_MINUTE',
  maxStreamsPerToken: 'NBSTAGE_MAX_STREAMS_PER_TOKEN',
  sessionSeconds: 'NBSTAGE_SESSION_SECONDS',
  maxSessions: 'NBSTAGE_MAX_SESSIONS',
};

/**
 * The limits the environment sets, the defaults for the rest.
 *
 * @throws UsageError naming the variable when a value is not a positive integer
 */
export function authLimitsFromEnv(env: NodeJS.ProcessEnv): AuthLimits {
  const limits = { ...DEFAULT_AUTH_LIMITS };
  for (const field of Object.keys(AUTH_LIMIT_VARIABLES) as (keyof AuthLimits)[]) {
    const name = AUTH_LIMIT_VARIABLES[field];
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      continue;
    }
    if (!/^\s*[1-9]\d*\s*$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new UsageError(`${name}: must be a positive integer, got ${JSON.stringify(raw)}`);
    }
    limits[field] = Number(raw);
  }
  return limits;
}
