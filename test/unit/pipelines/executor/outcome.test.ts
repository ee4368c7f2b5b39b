/**
 * The outcome module: one error -> status mapping (from live errors and from codes read back
 * from another process alike), the run-end of a run that never reached a kernel, and listener
 * calls whose failures are reported, never dropped.
 */
import {
  CancelledError,
  CellExecutionError,
  InternalError,
  KernelDiedError,
  TimeoutError,
  UnreachableError,
} from '../../../../pipelines/errors';
import type { RunEndEvent, RunEvent } from '../../../../pipelines/executor/events';
import {
  RunEventFanout,
  exceptionOf,
  notifyListeners,
  runEndEvent,
  runErrorInfo,
  statusFromError,
  unstartedNotebook,
  unstartedRunEnd,
} from '../../../../pipelines/executor/outcome';
import { Masker } from '../../../../pipelines/secrets/mask';
import { makeNotebook } from '../../../helpers/notebooks';

describe('statusFromError', () => {
  test('maps each error class to its status', () => {
    expect(statusFromError(new CellExecutionError(1, 'E', 'v', []))).toBe('failed');
    expect(statusFromError(new TimeoutError('cell', 1, 0))).toBe('timeout');
    expect(statusFromError(new TimeoutError('run', 1))).toBe('timeout');
    expect(statusFromError(new KernelDiedError('gone'))).toBe('kernel_died');
    expect(statusFromError(new CancelledError())).toBe('cancelled');
    expect(statusFromError(new UnreachableError('no server'))).toBe('error');
    expect(statusFromError(new InternalError('bug'))).toBe('error');
  });

  test('maps a code read back from another process the same way: a lost worker is kernel_died', () => {
    // What the BullMQ store records for a worker that stopped responding.
    const lostWorker = { code: 'NBSTAGE_KERNEL_DIED', message: 'worker w1 stopped responding' };
    expect(statusFromError(lostWorker)).toBe(statusFromError(new KernelDiedError('died')));
    expect(statusFromError({ code: 'NBSTAGE_CANCELLED' })).toBe('cancelled');
    expect(statusFromError({ code: 'NBSTAGE_SOMETHING_NEW' })).toBe('error');
  });
});

describe('runErrorInfo and exceptionOf', () => {
  test('a failed cell keeps its cell, ename and evalue, masked', () => {
    const masker = new Masker(['s3cret']);
    const info = runErrorInfo(new CellExecutionError(2, 'KeyError', 'no s3cret', []), { masker });
    expect(info).toEqual({
      code: 'NBSTAGE_CELL_FAILED',
      message: 'cell 2 raised KeyError: no ****',
      cell_index: 2,
      ename: 'KeyError',
      evalue: 'no ****',
    });
    expect(exceptionOf(info)).toEqual({ cell_index: 2, ename: 'KeyError', evalue: 'no ****' });
  });

  test('other errors name the running cell and fall back to code and message', () => {
    const info = runErrorInfo(new CancelledError(), { cellIndex: 4 });
    expect(info).toEqual({ code: 'NBSTAGE_CANCELLED', message: 'run cancelled', cell_index: 4 });
    expect(exceptionOf(info)).toEqual({
      cell_index: 4,
      ename: 'NBSTAGE_CANCELLED',
      evalue: 'run cancelled',
    });
    expect(exceptionOf(undefined)).toBeNull();
  });
});

describe('a run that never reached a kernel', () => {
  test('ends with the input notebook marked with the cause, not touching the input', () => {
    const input = makeNotebook(['x = 1']);
    input.metadata.nbstage = { job: 'j' };
    const end = unstartedRunEnd({
      runId: 'r1',
      notebook: input,
      error: new UnreachableError('cannot reach Jupyter'),
    });
    expect(end).toMatchObject({
      type: 'run-end',
      runId: 'r1',
      status: 'error',
      durationMs: 0,
      error: { code: 'NBSTAGE_UNREACHABLE', message: 'cannot reach Jupyter' },
    });
    expect(end.notebook.metadata.nbstage).toEqual({
      job: 'j',
      run_id: 'r1',
      status: 'error',
      exception: { cell_index: null, ename: 'NBSTAGE_UNREACHABLE', evalue: 'cannot reach Jupyter' },
    });
    expect(input.metadata.nbstage).toEqual({ job: 'j' });
  });

  test('a cancel before the start ends cancelled; a lost worker ends kernel_died', () => {
    const nb = makeNotebook(['x = 1']);
    expect(unstartedRunEnd({ runId: '', notebook: nb, error: new CancelledError() }).status).toBe(
      'cancelled',
    );
    const lost = unstartedNotebook(nb, 'r2', { code: 'NBSTAGE_KERNEL_DIED', message: 'lost' });
    expect(lost.metadata.nbstage).toMatchObject({ run_id: 'r2', status: 'kernel_died' });
  });
});

describe('runEndEvent', () => {
  test('takes only its own fields, so a streamed run-end can be completed with a notebook', () => {
    const nb = makeNotebook(['x = 1']);
    const streamed: RunEndEvent = {
      type: 'run-end',
      runId: 'r',
      at: '2024-01-01T00:00:00.000Z',
      status: 'failed',
      durationMs: 5,
      error: { code: 'NBSTAGE_CELL_FAILED', message: 'm' },
      notebook: makeNotebook([]),
    };
    const withExtra = { ...streamed, extra: 'dropped' };
    expect(runEndEvent({ ...withExtra, notebook: nb })).toEqual({ ...streamed, notebook: nb });
  });
});

describe('listener calls', () => {
  const event: RunEvent = { type: 'output-clear', runId: 'r', index: 0 };

  test('every listener is called in order even when one throws or rejects; failures reported', async () => {
    const calls: string[] = [];
    const failures: string[] = [];
    await notifyListeners(
      [
        () => {
          calls.push('a');
          throw new Error('thrown');
        },
        async () => {
          calls.push('b');
          throw new Error('rejected');
        },
        () => void calls.push('c'),
      ],
      event,
      (err) => failures.push((err as Error).message),
    );
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(failures.sort()).toEqual(['rejected', 'thrown']);
  });

  test('emit does not wait; settled waits for every promise, including later ones', async () => {
    const done: number[] = [];
    const fanout = new RunEventFanout(
      [
        async () => {
          await new Promise((r) => setTimeout(r, 20));
          done.push(done.length);
        },
      ],
      () => undefined,
    );
    fanout.emit(event);
    fanout.emit(event);
    expect(done).toEqual([]);
    await fanout.settled();
    expect(done).toEqual([0, 1]);
  });

  test('a failing error reporter does not break the calls', async () => {
    const calls: string[] = [];
    await notifyListeners(
      [
        () => {
          throw new Error('x');
        },
        () => void calls.push('after'),
      ],
      event,
      () => {
        throw new Error('reporter');
      },
    );
    expect(calls).toEqual(['after']);
  });
});
