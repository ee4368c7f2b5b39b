/**
 * What a settled handler leaves on its job.
 */
import { CellExecutionError, KernelDiedError } from '../../../pipelines/errors';
import { jobErrorOf, jobResultOf } from '../../../server/queue/job-outcome';

describe('job outcome', () => {
  test('an NbstageError keeps its code and message', () => {
    expect(jobErrorOf(new CellExecutionError(1, 'KeyError', "'x'", []))).toEqual({
      code: 'NBSTAGE_CELL_FAILED',
      message: "cell 1 raised KeyError: 'x'",
    });
    expect(jobErrorOf(new KernelDiedError('kernel died'))).toEqual({
      code: 'NBSTAGE_KERNEL_DIED',
      message: 'kernel died',
    });
  });

  test('an error carrying an NBSTAGE_ code keeps it; anything else is NBSTAGE_INTERNAL', () => {
    const foreign = Object.assign(new Error('from a child'), { code: 'NBSTAGE_RUN_TIMEOUT' });
    expect(jobErrorOf(foreign)).toEqual({ code: 'NBSTAGE_RUN_TIMEOUT', message: 'from a child' });
    const errno = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    expect(jobErrorOf(errno)).toEqual({ code: 'NBSTAGE_INTERNAL', message: 'no such file' });
    expect(jobErrorOf('just a string')).toEqual({
      code: 'NBSTAGE_INTERNAL',
      message: 'just a string',
    });
  });

  test('results are plain JSON copies; non-objects become {}', () => {
    const result = { a: [1, { b: null }] };
    const kept = jobResultOf(result);
    expect(kept).toEqual(result);
    expect(kept).not.toBe(result);
    expect(jobResultOf(undefined)).toEqual({});
    expect(jobResultOf([1])).toEqual({});
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => jobResultOf(cycle)).toThrow();
  });
});
