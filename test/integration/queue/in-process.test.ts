/**
 * The in-process backend passes the queue contract.
 */
import { inProcessBackend } from '../../../server/queue';
import { queueContract, queuedJobOutlivesBackend } from './contract';

queueContract('in-process', () => inProcessBackend());

test('not durable: a queued job lives in its backend only', async () => {
  expect(inProcessBackend().capabilities.durable).toBe(false);
  expect(await queuedJobOutlivesBackend(() => inProcessBackend())).toBe(false);
});
