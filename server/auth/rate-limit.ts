/**
 * Token buckets in memory, and the express rate limiter built on them: each key (a principal, or
 * a client address before authentication) may make `capacity` requests at once and
 * `refillPerSecond` more each second after that. Over the limit: 429 `NBSTAGE_RATE_LIMITED` with
 * `Retry-After`. The failed-authentication limit (`authenticator.ts`) draws on the same
 * buckets. Buckets live in this process only; several service processes limit separately.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RateLimitedError, ValidationError } from '../../pipelines/errors';

/** Options of {@link TokenBuckets}. */
export interface BucketOptions {
  /** Requests a key may make in a burst (the bucket's size), at least 1. */
  capacity: number;
  /** Requests a key regains per second, more than 0. */
  refillPerSecond: number;
  /** Milliseconds clock (default `Date.now`), for tests. */
  now?: () => number;
  /** Buckets kept at most (default 10 000); full ones go first, then the oldest. */
  maxKeys?: number;
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions extends BucketOptions {
  /** The bucket a request draws from; see {@link principalOrIp}. */
  key(req: Request, res: Response): string;
}

/** Slack for the floating-point sums of refills (5/60 per second, 12 times, is not quite 1). */
const EPSILON = 1e-9;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * One token bucket per key. A key that has not drawn for a while has a full bucket, so only keys
 * that drew recently are kept: at most `maxKeys`.
 */
export class TokenBuckets {
  private readonly capacity: number;
  private readonly refillPerSecond: number;
  private readonly now: () => number;
  private readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();

  /** @throws ValidationError when `capacity` or `refillPerSecond` is out of range */
  constructor(options: BucketOptions) {
    const { capacity, refillPerSecond } = options;
    if (!Number.isFinite(capacity) || capacity < 1) {
      throw new ValidationError('capacity', `capacity must be at least 1, got ${capacity}`);
    }
    if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) {
      throw new ValidationError(
        'refillPerSecond',
        `refillPerSecond must be more than 0, got ${refillPerSecond}`,
      );
    }
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /**
   * Seconds until `key` may draw again: 0 when it may now, else at least 1 (what `Retry-After`
   * says). Draws nothing.
   */
  retryAfter(key: string): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) {
      return 0;
    }
    this.refill(bucket, this.now());
    return bucket.tokens >= 1 - EPSILON ? 0 : this.wait(bucket);
  }

  /** Draws one from `key`'s bucket even when it is empty (it then goes below 0). */
  spend(key: string): void {
    this.bucket(key).tokens -= 1;
  }

  /** Draws one from `key`'s bucket when it can: 0 then, else the seconds until it could. */
  take(key: string): number {
    const bucket = this.bucket(key);
    if (bucket.tokens >= 1 - EPSILON) {
      bucket.tokens -= 1;
      return 0;
    }
    return this.wait(bucket);
  }

  private wait(bucket: Bucket): number {
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.refillPerSecond - EPSILON));
  }

  /** `key`'s bucket, refilled to now (a full new one when there was none). */
  private bucket(key: string): Bucket {
    const at = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        this.prune(at);
      }
      bucket = { tokens: this.capacity, updatedMs: at };
      this.buckets.set(key, bucket);
    } else {
      this.refill(bucket, at);
    }
    return bucket;
  }

  private refill(bucket: Bucket, at: number): void {
    const elapsed = Math.max(0, at - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(this.capacity, bucket.tokens + elapsed * this.refillPerSecond);
    bucket.updatedMs = at;
  }

  private prune(at: number): void {
    for (const [name, bucket] of this.buckets) {
      this.refill(bucket, at);
      if (bucket.tokens >= this.capacity) {
        this.buckets.delete(name);
      }
    }
    // Still too many active keys: forget the oldest (they start again with a full bucket).
    for (const name of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) {
        break;
      }
      this.buckets.delete(name);
    }
  }
}

/**
 * The default key: the principal's id once {@link requireRole} ran, else the client address
 * (`req.ip`, which honours express's `trust proxy` setting).
 */
export function principalOrIp(req: Request, res: Response): string {
  // Read here, not through middleware.ts: the middleware builds on these buckets.
  const principal = res.locals.principal;
  if (principal !== undefined) {
    return `principal:${principal.id}`;
  }
  return `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}

/** Answers 429 `NBSTAGE_RATE_LIMITED` with `Retry-After: seconds`. */
export function sendRateLimited(res: Response, seconds: number): void {
  res.status(429).set('Retry-After', String(seconds)).json(new RateLimitedError(seconds).toJSON());
}

/**
 * Express middleware limiting the request rate per key with a token bucket.
 *
 * @throws ValidationError when `capacity` or `refillPerSecond` is out of range
 */
export function rateLimit(options: RateLimitOptions): RequestHandler {
  const buckets = new TokenBuckets(options);
  return (req: Request, res: Response, next: NextFunction): void => {
    const wait = buckets.take(options.key(req, res));
    if (wait === 0) {
      next();
    } else {
      sendRateLimited(res, wait);
    }
  };
}
