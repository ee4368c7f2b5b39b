/**
 * Label sets: canonical keys, who may take what, default worker ids.
 */
import {
  canTake,
  defaultWorkerId,
  labelSetKey,
  labelsOfKey,
  missingLabels,
} from '../../../server/queue/labels';
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../../../server/queue/validate';

describe('label sets', () => {
  test('keys are sorted, deduplicated, `+`-joined, `-` when empty', () => {
    expect(labelSetKey(['gpu', 'cpu', 'gpu'])).toBe('cpu+gpu');
    expect(labelSetKey(['gpu'])).toBe('gpu');
    expect(labelSetKey([])).toBe('-');
    expect(labelsOfKey('cpu+gpu')).toEqual(['cpu', 'gpu']);
    expect(labelsOfKey('-')).toEqual([]);
  });

  test('a worker takes a job only when it has every required label', () => {
    expect(canTake(['cpu', 'gpu'], ['gpu'])).toBe(true);
    expect(canTake(['cpu'], ['gpu'])).toBe(false);
    expect(canTake([], [])).toBe(true);
    expect(canTake(['cpu'], [])).toBe(true);
    expect(missingLabels(['cpu'], ['gpu', 'cpu', 'a100'])).toEqual(['gpu', 'a100']);
  });

  test('default worker ids are valid names', () => {
    const id = defaultWorkerId();
    expect(id).toMatch(new RegExp(NAME_PATTERN));
    expect(id.length).toBeLessThanOrEqual(MAX_NAME_LENGTH);
    expect(id).toContain(`-${process.pid}-`);
    expect(defaultWorkerId()).not.toBe(id);
  });
});
