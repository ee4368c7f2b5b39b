/**
 * The executor on scripted fake kernels: the order of its events, pipelined requests, errors,
 * which cell a kernel death is blamed on, timeouts, cancellation and failing listeners.
 */
import {
  CancelledError,
  CellExecutionError,
  KernelDiedError,
  TimeoutError,
} from '../../../../pipelines/errors';
import type { CellEndEvent, RunEvent } from '../../../../pipelines/executor/events';
import { executeNotebook, type ExecuteResult } from '../../../../pipelines/executor/executor';
import type { CodeCell, Notebook } from '../../../../pipelines/notebook/model';
import { makeNotebook, type CellSpec } from '../../../helpers/notebooks';
import { FakeKernel, type CellScript } from './fake-kernel';

interface Run {
  result: ExecuteResult;
  events: RunEvent[];
  kernel: FakeKernel;
}

/** Runs `cells` on one fake kernel scripted by `script`. */
async function run(
  cells: (string | CellSpec)[],
  script: Record<string, CellScript> = {},
  options: Partial<Parameters<typeof executeNotebook>[0]> = {},
): Promise<Run> {
  const notebook = makeNotebook(cells);
  const kernel = new FakeKernel('python3', script);
  const events: RunEvent[] = [];
  const result = await executeNotebook({
    notebook,
    cells: notebook.cells.map((_, i) => i),
    kernelFor: () => kernel,
    interruptGraceMs: 50,
    listeners: [(e) => void events.push(e)],
    ...options,
  });
  return { result, events, kernel };
}

function ends(events: RunEvent[]): Map<number, CellEndEvent> {
  return new Map(
    events.filter((e): e is CellEndEvent => e.type === 'cell-end').map((e) => [e.index, e]),
  );
}

function statuses(events: RunEvent[]): string[] {
  return [...ends(events).entries()].sort(([a], [b]) => a - b).map(([, e]) => e.status);
}

function cell(nb: Notebook, index: number): CodeCell {
  return nb.cells[index] as CodeCell;
}

function shape(events: RunEvent[]): string[] {
  return events.map((e) => ('index' in e ? `${e.type} ${e.index}` : e.type));
}

describe('the executor on a scripted kernel', () => {
  test('emits run-start, then each cell start, outputs and end in order, then run-end', async () => {
    const { result, events } = await run(['a', 'b'], {
      a: { outputs: [{ stream: 'one\n' }, { stream: 'two\n' }] },
      b: { outputs: [{ result: '42' }] },
    });
    expect(result.status).toBe('completed');
    expect(shape(events)).toEqual([
      'run-start',
      'cell-start 0',
      'output 0',
      'output 0',
      'cell-end 0',
      'cell-start 1',
      'output 1',
      'cell-end 1',
      'run-end',
    ]);
    expect(cell(result.notebook, 0).outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['one\n', 'two\n'] },
    ]);
    expect(cell(result.notebook, 1).execution_count).toBe(2);
    expect(cell(result.notebook, 1).outputs[0]).toMatchObject({
      output_type: 'execute_result',
      execution_count: 2,
    });
    expect(result.notebook.metadata.nbstage).toMatchObject({
      status: 'completed',
      kernel: 'python3',
      exception: null,
    });
    expect(result.kernelsUsable).toBe(true);
  });

  test('sends every request of a segment before the first reply (pipelining)', async () => {
    const { kernel } = await run(['a', 'b', 'c'], { a: { durationMs: 20 } });
    const firstReply = kernel.log.indexOf('reply a');
    expect(firstReply).toBeGreaterThan(0);
    for (const code of ['a', 'b', 'c']) {
      expect(kernel.log.indexOf(`send ${code}`)).toBeLessThan(firstReply);
    }
  });

  test('waits for a segment on one kernel before sending the next on another', async () => {
    const notebook = makeNotebook(['a', 'b', 'c']);
    const main = new FakeKernel('python3', { a: { durationMs: 10 } });
    const other = new FakeKernel('other');
    const order: string[] = [];
    const spy = (k: FakeKernel): void => {
      const execute = k.execute.bind(k);
      k.execute = (code, options, callbacks) => {
        order.push(`${k.name} ${code}`);
        return execute(code, options, callbacks);
      };
    };
    spy(main);
    spy(other);
    const result = await executeNotebook({
      notebook,
      cells: [0, 1, 2],
      kernelFor: (i) => (i === 1 ? other : main),
    });
    expect(result.status).toBe('completed');
    expect(order).toEqual(['python3 a', 'other b', 'python3 c']);
    expect(main.log.indexOf('reply a')).toBeGreaterThanOrEqual(0);
    // b went out only once a was done, c once b was.
    expect(other.log[0]).toBe('send b');
    expect(main.log.indexOf('send c')).toBeGreaterThan(main.log.indexOf('reply a'));
  });

  test('stops at a failing cell: the cells queued behind it are aborted', async () => {
    const { result, events, kernel } = await run(['a', 'b', 'c'], {
      b: { error: { ename: 'ValueError', evalue: 'bad' } },
    });
    expect(result.status).toBe('failed');
    expect(result.error).toBeInstanceOf(CellExecutionError);
    expect(result.error).toMatchObject({ cellIndex: 1, ename: 'ValueError', evalue: 'bad' });
    expect(statuses(events)).toEqual(['ok', 'error', 'aborted']);
    expect(ends(events).get(1)?.error).toMatchObject({ ename: 'ValueError', evalue: 'bad' });
    expect(kernel.log).not.toContain('busy c');
    expect(result.notebook.metadata.nbstage).toMatchObject({
      status: 'failed',
      exception: { cell_index: 1, ename: 'ValueError', evalue: 'bad' },
    });
    // A cell error leaves the kernel alive.
    expect(kernel.shutDown).toBe(false);
    expect(result.kernelsUsable).toBe(true);
  });

  test('with allowErrors, runs on after a failing cell and completes', async () => {
    const { result, events, kernel } = await run(
      ['a', 'b', 'c'],
      { b: { error: { ename: 'ValueError', evalue: 'bad' } } },
      { allowErrors: true },
    );
    expect(result.status).toBe('completed');
    expect(result.error).toBeNull();
    expect(statuses(events)).toEqual(['ok', 'error', 'ok']);
    expect(kernel.log).toContain('busy c');
  });

  test('a raises-exception cell that raises is ok, and the run goes on', async () => {
    const { result, events } = await run(['a', { source: 'b', tags: ['raises-exception'] }, 'c'], {
      b: { error: { ename: 'KeyError', evalue: 'k' } },
    });
    expect(result.status).toBe('completed');
    expect(statuses(events)).toEqual(['ok', 'ok', 'ok']);
  });

  test('sys.exit(0) ends the run successfully there, without an error output', async () => {
    const { result, events } = await run(['a', 'b', 'c'], {
      b: { error: { ename: 'SystemExit', evalue: '0' } },
    });
    expect(result.status).toBe('completed');
    expect(ends(events).get(1)?.status).toBe('ok');
    expect(ends(events).has(2)).toBe(false);
    expect(cell(result.notebook, 1).outputs).toEqual([]);
  });

  test('blames a death on the cell that was running', async () => {
    const { result, events, kernel } = await run(['a', 'b', 'c'], { b: { dieWith: 'dead' } });
    expect(result.status).toBe('kernel_died');
    expect(result.error).toBeInstanceOf(KernelDiedError);
    expect(result.error).toMatchObject({ cellIndex: 1, message: 'kernel python3 died in cell 1' });
    expect(statuses(events)).toEqual(['ok', 'kernel_died', 'aborted']);
    expect(result.kernelsUsable).toBe(false);
    expect(kernel.shutDown).toBe(true);
  });

  test('blames a death after a reply on the next cell, not on the one that replied', async () => {
    // Killed outright after a's reply: a's idle never comes, so its request never settles.
    const { result, events } = await run(['a', 'b', 'c'], { a: { dieAfterReply: 'restarting' } });
    expect(result.status).toBe('kernel_died');
    expect(result.error).toMatchObject({ cellIndex: 1, message: 'kernel python3 died in cell 1' });
    expect(statuses(events)).toEqual(['ok', 'kernel_died', 'aborted']);
    expect(result.notebook.metadata.nbstage).toMatchObject({ exception: { cell_index: 1 } });
  });

  test('says how the kernel process ended when the kernel knows', async () => {
    const { result } = await run(['a', 'b'], {
      b: { dieWith: 'dead', deathCause: 'was killed by SIGKILL' },
    });
    expect(result.error).toMatchObject({
      cellIndex: 1,
      message: 'kernel python3 died in cell 1 (was killed by SIGKILL)',
    });
  });

  test('names a lost server in the death', async () => {
    const { result } = await run(['a'], { a: { dieWith: 'server-died' } });
    expect(result.error?.message).toBe('the Jupyter server running kernel python3 died in cell 0');
  });

  test('a cell timeout interrupts the cell, then kills the kernel', async () => {
    const { result, events, kernel } = await run(
      ['a', 'b', 'c'],
      { b: { hang: true } },
      {
        cellTimeoutS: 0.05,
      },
    );
    expect(result.status).toBe('timeout');
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect(result.error).toMatchObject({ scope: 'cell', cellIndex: 1 });
    expect(statuses(events)).toEqual(['ok', 'timeout', 'aborted']);
    expect(kernel.log.indexOf('interrupt')).toBeLessThan(kernel.log.indexOf('shutdown'));
    // The interrupted cell shows its KeyboardInterrupt.
    expect(cell(result.notebook, 1).outputs.map((o) => o.output_type)).toEqual(['error']);
    expect(result.kernelsUsable).toBe(false);
  });

  test('a cell that ignores the interrupt is killed after the grace period', async () => {
    const started = Date.now();
    const { result, kernel } = await run(
      ['a'],
      { a: { hang: true, ignoresInterrupt: true } },
      {
        cellTimeoutS: 0.03,
        interruptGraceMs: 100,
      },
    );
    expect(result.status).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    expect(kernel.log.slice(-2)).toEqual(['interrupt', 'shutdown']);
  });

  test('a run timeout ends the run in whichever cell is running', async () => {
    const { result, events } = await run(
      ['a', 'b', 'c'],
      { b: { hang: true } },
      {
        runTimeoutS: 0.08,
      },
    );
    expect(result.status).toBe('timeout');
    expect(result.error).toMatchObject({ scope: 'run', cellIndex: 1 });
    expect(statuses(events)).toEqual(['ok', 'timeout', 'aborted']);
  });

  test('aborting the signal cancels the run: interrupt, then shut down', async () => {
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const { result, kernel } = await run(
      ['a', 'b'],
      { b: { hang: true } },
      {
        signal: controller.signal,
        listeners: [
          (e) => {
            events.push(e);
            if (e.type === 'cell-start' && e.index === 1) {
              controller.abort();
            }
          },
        ],
      },
    );
    expect(result.status).toBe('cancelled');
    expect(result.error).toBeInstanceOf(CancelledError);
    expect(kernel.log.indexOf('interrupt')).toBeLessThan(kernel.log.indexOf('shutdown'));
    expect(statuses(events)).toEqual(['ok', 'cancelled']);
    expect(result.notebook.metadata.nbstage).toMatchObject({
      status: 'cancelled',
      exception: { cell_index: 1, ename: 'NBSTAGE_CANCELLED' },
    });
  });

  test('a signal aborted before the run runs no cell', async () => {
    const controller = new AbortController();
    controller.abort();
    const { result, events, kernel } = await run(['a'], {}, { signal: controller.signal });
    expect(result.status).toBe('cancelled');
    expect(kernel.log.some((l) => l.startsWith('send'))).toBe(false);
    expect(shape(events)).toEqual(['run-start', 'cell-end 0', 'run-end']);
    expect(ends(events).get(0)?.status).toBe('aborted');
  });

  test('reports listener failures (thrown or rejected) and still calls every listener', async () => {
    const failures: unknown[] = [];
    const seen: string[] = [];
    const { result } = await run(
      ['a'],
      {},
      {
        listeners: [
          (e) => {
            if (e.type === 'cell-start') {
              throw new Error('sync failure');
            }
          },
          async (e) => {
            if (e.type === 'run-end') {
              throw new Error('async failure');
            }
          },
          (e) => void seen.push(e.type),
        ],
        onListenerError: (err) => failures.push(err),
      },
    );
    expect(result.status).toBe('completed');
    expect(seen).toEqual(['run-start', 'cell-start', 'cell-end', 'run-end']);
    expect(failures.map((f) => (f as Error).message).sort()).toEqual([
      'async failure',
      'sync failure',
    ]);
  });

  test('awaits slow listeners before it returns', async () => {
    let finished = false;
    await run(
      ['a'],
      {},
      {
        listeners: [
          async (e) => {
            if (e.type === 'run-end') {
              await new Promise((r) => setTimeout(r, 30));
              finished = true;
            }
          },
        ],
      },
    );
    expect(finished).toBe(true);
  });
});
