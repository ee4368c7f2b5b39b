/**
 * Redis connections for the BullMQ backend: made from a URL, waiting through restarts (commands
 * queue until Redis is back instead of failing), quick to reconnect, and with a bounded wait for
 * the first connection so a wrong URL is a clear NBSTAGE_UNREACHABLE rather than a hang.
 */
import Redis from 'ioredis';
import { UnreachableError } from '../../../pipelines/errors';

/** The URL with any password replaced by `****`, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') {
      parsed.password = '****';
    }
    return parsed.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}

/** A connection that BullMQ can share (`maxRetriesPerRequest: null`) and that reconnects fast. */
export function connectRedis(url: string, onError: (err: Error) => void): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  redis.on('error', onError);
  return redis;
}

/** Resolves once the connection is ready; an UnreachableError after `timeoutMs` otherwise. */
export async function waitUntilReady(redis: Redis, url: string, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') {
    return;
  }
  let lastError: Error | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onError = (err: Error): void => {
    lastError = err;
  };
  redis.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        resolve();
      };
      redis.once('ready', onReady);
      timer = setTimeout(() => {
        redis.off('ready', onReady);
        const why = lastError === undefined ? '' : ` (${lastError.message})`;
        reject(
          new UnreachableError(
            `cannot reach Redis at ${redactUrl(url)} within ${timeoutMs} ms${why}`,
          ),
        );
      }, timeoutMs);
    });
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}

/** Closes a connection, politely when it is up and at once when it is not. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') {
    return;
  }
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  redis.disconnect();
}
