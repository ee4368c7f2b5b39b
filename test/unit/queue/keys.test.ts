/**
 * Names the BullMQ backend uses in Redis: queues per label set and per worker, job ids,
 * priorities.
 */
import {
  RedisKeys,
  bullPriorityOf,
  jobIdOf,
  labelQueueName,
  parseQueueName,
  runIdOfJobId,
  workerQueueName,
} from '../../../server/queue/bullmq/keys';

describe('BullMQ names', () => {
  test('one queue per label set, one per worker, never confused', () => {
    expect(labelQueueName(['gpu', 'cpu'])).toBe('runs/cpu+gpu');
    expect(labelQueueName([])).toBe('runs/-');
    expect(workerQueueName('host-1')).toBe('runs/worker/host-1');
    expect(parseQueueName('runs/cpu+gpu')).toEqual({ kind: 'labels', key: 'cpu+gpu' });
    expect(parseQueueName('runs/worker')).toEqual({ kind: 'labels', key: 'worker' });
    expect(parseQueueName('runs/worker/host-1')).toEqual({ kind: 'worker', workerId: 'host-1' });
    expect(parseQueueName('other')).toBeUndefined();
    expect(parseQueueName('runs/')).toBeUndefined();
    for (const name of [labelQueueName(['a']), workerQueueName('w')]) {
      expect(name).not.toContain(':');
    }
  });

  test('job ids are never integer-looking and map back to run ids', () => {
    expect(jobIdOf('42')).toBe('run.42');
    expect(runIdOfJobId('run.42')).toBe('42');
    expect(runIdOfJobId('foreign')).toBeUndefined();
    expect(runIdOfJobId(undefined)).toBeUndefined();
  });

  test('higher nbstage priority is a lower BullMQ priority, always at least 1', () => {
    expect(bullPriorityOf(1000)).toBe(1);
    expect(bullPriorityOf(undefined)).toBe(bullPriorityOf(0));
    expect(bullPriorityOf(5)).toBeLessThan(bullPriorityOf(0));
    expect(bullPriorityOf(-1000)).toBe(2001);
  });

  test('own keys and channels live under the prefix', () => {
    const keys = new RedisKeys('test-p');
    const all = [
      keys.run('r'),
      keys.state('queued'),
      keys.labelSets(),
      keys.session('s'),
      keys.worker('w'),
      keys.workers(),
      keys.events(),
      keys.control(),
    ];
    expect(all.every((k) => k.startsWith('test-p:'))).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(keys.worker('w')).toBe(keys.workerPrefix() + 'w');
  });
});
