/**
 * The in-process backend passes the queue contract.
 */
import { inProcessBackend } from '../../../server/queue';
import { payload, queueContract } from './contract';

queueContract('in-process', () => inProcessBackend());

test('not durable: a queued job lives in its backend only', async () => {
  expect(inProcessBackend().capabilities.durable).toBe(false);
  const first = inProcessBackend().queue();
  const job = payload();
  await first.enqueue(job);
  await first.close();
  const second = inProcessBackend().queue();
  expect(await second.get(job.runId)).toBeNull();
  await second.close();
});
