/**
 * A small in-memory token-bucket rate limiter for express: each key (a principal, or a client
 * address before authentication) may make `capacity` requests at once and `refillPerSecond` more
 * each second after that. Over the limit: 429 `NBSTAGE_RATE_LIMITED` with `Retry-After`.
 * Buckets live in this process only; several service processes limit separately.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RateLimitedError, ValidationError } from '../../pipelines/errors';
import { principalOf } from './middleware';

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Requests a key may make in a burst (the bucket's size), at least 1. */
  capacity: number;
  /** Requests a key regains per second, more than 0. */
  refillPerSecond: number;
  /** The bucket a request draws from; see {@link principalOrIp}. */
  key(req: Request, res: Response): string;
  /** Milliseconds clock (default `Date.now`), for tests. */
  now?: () => number;
  /** Buckets kept at most (default 10 000); full ones go first, then the oldest. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * The default key: the principal's id once {@link requireRole} ran, else the client address
 * (`req.ip`, which honours express's `trust proxy` setting).
 */
export function principalOrIp(req: Request, res: Response): string {
  const principal = principalOf(res);
  if (principal !== undefined) {
    return `principal:${principal.id}`;
  }
  return `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}

/**
 * Express middleware limiting the request rate per key with a token bucket.
 *
 * @throws ValidationError when `capacity` or `refillPerSecond` is out of range
 */
export function rateLimit(options: RateLimitOptions): RequestHandler {
  const { capacity, refillPerSecond, key } = options;
  if (!Number.isFinite(capacity) || capacity < 1) {
    throw new ValidationError('capacity', `capacity must be at least 1, got ${capacity}`);
  }
  if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) {
    throw new ValidationError(
      'refillPerSecond',
      `refillPerSecond must be more than 0, got ${refillPerSecond}`,
    );
  }
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const buckets = new Map<string, Bucket>();

  const refill = (bucket: Bucket, at: number): void => {
    const elapsed = Math.max(0, at - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(capacity, bucket.tokens + elapsed * refillPerSecond);
    bucket.updatedMs = at;
  };

  const prune = (at: number): void => {
    for (const [name, bucket] of buckets) {
      refill(bucket, at);
      if (bucket.tokens >= capacity) {
        buckets.delete(name);
      }
    }
    // Still too many active keys: forget the oldest (they start again with a full bucket).
    for (const name of buckets.keys()) {
      if (buckets.size <= maxKeys) {
        break;
      }
      buckets.delete(name);
    }
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    const at = now();
    const name = key(req, res);
    let bucket = buckets.get(name);
    if (bucket === undefined) {
      if (buckets.size >= maxKeys) {
        prune(at);
      }
      bucket = { tokens: capacity, updatedMs: at };
      buckets.set(name, bucket);
    } else {
      refill(bucket, at);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      next();
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerSecond));
    res
      .status(429)
      .set('Retry-After', String(retryAfter))
      .json(new RateLimitedError(retryAfter).toJSON());
  };
}
