/**
 * The BullMQ backend passes the queue contract on a real redis-server (one per file, each test
 * under its own key prefix `test-<uuid>`).
 */
import { bullmqBackend } from '../../../server/queue';
import { useRedisServer } from '../../helpers/redis';
import { queueContract, testName } from './contract';

const redis = useRedisServer();

queueContract('bullmq', () =>
  bullmqBackend({
    url: redis().url,
    prefix: testName(),
    stalledIntervalMs: 10_000,
    pollIntervalMs: 200,
  }),
);
