/**
 * Which backend a configuration gets, and what each says it can do.
 */
import { queueBackend } from '../../../server/queue';

describe('queueBackend', () => {
  test('without a Redis URL: in-process, nothing leaves or outlives the process', () => {
    expect(queueBackend({}).capabilities).toEqual({
      name: 'in-process',
      durable: false,
      remoteWorkers: false,
      sharedSecretKey: false,
    });
  });

  test('with a Redis URL: BullMQ, durable jobs taken by workers anywhere', () => {
    // Making the backend connects nothing: its queues and workers do.
    const backend = queueBackend({ redisUrl: 'redis://127.0.0.1:1', stalledIntervalMs: 1000 });
    expect(backend.capabilities).toEqual({
      name: 'redis',
      durable: true,
      remoteWorkers: true,
      sharedSecretKey: true,
    });
  });

  test('the Redis backend checks its options', () => {
    expect(() => queueBackend({ redisUrl: 'redis://127.0.0.1:1', stalledIntervalMs: 10 })).toThrow(
      /stalledIntervalMs must be at least 400/,
    );
  });
});
