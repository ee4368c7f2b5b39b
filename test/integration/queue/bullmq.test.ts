/**
 * The BullMQ backend passes the queue contract on a real redis-server (one per file, each test
 * under its own key prefix `test-<uuid>`).
 */
import { bullmqBackend } from '../../../server/queue';
import { useRedisServer } from '../../helpers/redis';
import { queueContract, queuedJobOutlivesBackend, testName } from './contract';

const redis = useRedisServer();

test('durable: a queued job outlives the backend that queued it', async () => {
  const prefix = testName();
  const make = () => bullmqBackend({ url: redis().url, prefix, stalledIntervalMs: 10_000 });
  expect(make().capabilities.durable).toBe(true);
  expect(await queuedJobOutlivesBackend(make)).toBe(true);
});

queueContract('bullmq', () =>
  bullmqBackend({
    url: redis().url,
    prefix: testName(),
    stalledIntervalMs: 10_000,
    pollIntervalMs: 200,
  }),
);
