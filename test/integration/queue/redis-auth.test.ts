/**
 * A Redis that requires a password (what a queue shared between hosts needs): the BullMQ
 * backend works with the password in the URL (`redis://:PASSWORD@host:port`), and a wrong or
 * missing one is exit 5 naming the URL with the password hidden.
 */
import { randomBytes } from 'node:crypto';
import { bullmqBackend } from '../../../server/queue';
import { UnreachableError } from '../../../pipelines/errors';
import { startRedisServer, type RedisServer } from '../../helpers/redis';
import { testName } from './contract';

describe('the BullMQ backend on a Redis with a password', () => {
  const password = randomBytes(12).toString('hex');
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer({ password });
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });

  it('queues and reads a job with the password in the URL', async () => {
    expect(redis.url).toContain(`:${password}@`);
    const queue = bullmqBackend({ url: redis.url, prefix: testName() }).queue();
    try {
      expect(await queue.depth()).toEqual({ queued: 0, active: 0 });
    } finally {
      await queue.close();
    }
  });

  it('a wrong or missing password is UnreachableError, the password never in the message', async () => {
    for (const url of [
      redis.url.replace(password, 'wrong-password'),
      redis.url.replace(`:${password}@`, ''),
    ]) {
      const queue = bullmqBackend({ url, prefix: testName(), connectTimeoutMs: 1500 }).queue();
      try {
        const err = await queue.depth().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UnreachableError);
        expect((err as Error).message).toMatch(/cannot reach Redis at redis:\/\/.*127\.0\.0\.1/);
        expect((err as Error).message).toMatch(/WRONGPASS|NOAUTH|invalid password|Authentication/i);
        expect((err as Error).message).not.toContain(password);
        expect((err as Error).message).not.toContain('wrong-password');
      } finally {
        await queue.close();
      }
    }
  });
});
