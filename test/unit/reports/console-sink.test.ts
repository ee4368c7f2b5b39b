import { Writable } from 'node:stream';
import type { RunEvent } from '../../../pipelines/executor/events';
import type { Output } from '../../../pipelines/notebook/model';
import { createConsoleSink, describeBundle } from '../../../pipelines/sinks/console-sink';
import { PNG_1X1, ZERO_DIVISION_TRACEBACK, executedNotebook } from './notebook-fixtures';
import { METRIC_MIME as METRIC } from '../../../pipelines/reports/run-metadata';

const RUN = 'run-1';
const AT = '2025-05-01T12:00:00.000Z';

/** stdout and stderr that record what was written to each, and in which order. */
function consoles() {
  const log: { stream: 'out' | 'err'; text: string }[] = [];
  const make = (stream: 'out' | 'err') =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        log.push({ stream, text: chunk.toString('utf8') });
        callback();
      },
    });
  return {
    stdout: make('out'),
    stderr: make('err'),
    log,
    /** What a merged console (Jenkins) shows. */
    merged: () => log.map((l) => l.text).join(''),
    only: (stream: 'out' | 'err') =>
      log
        .filter((l) => l.stream === stream)
        .map((l) => l.text)
        .join(''),
  };
}

const start = (
  index: number,
  position: number,
  firstLine: string,
  stage: string | null = null,
): RunEvent => ({
  type: 'cell-start',
  runId: RUN,
  at: AT,
  index,
  position,
  total: 3,
  stage,
  firstLine,
});
const output = (index: number, out: Output): RunEvent => ({
  type: 'output',
  runId: RUN,
  index,
  output: out,
});
const end = (
  index: number,
  status: Extract<RunEvent, { type: 'cell-end' }>['status'],
  durationMs: number,
  error?: { ename: string; evalue: string; traceback: string[] },
): RunEvent => ({
  type: 'cell-end',
  runId: RUN,
  at: AT,
  index,
  status,
  durationMs,
  executionCount: 1,
  ...(error === undefined ? {} : { error }),
});

/** A failing run: a stream without newline, a result, an image, a metric, then an error. */
function failingRun(): RunEvent[] {
  return [
    {
      type: 'run-start',
      runId: RUN,
      at: AT,
      kernel: 'python3',
      language: 'python',
      cells: [1, 3, 5],
      stages: ['train'],
      parameters: {},
    },
    start(1, 0, 'print("loading", end="")'),
    output(1, { output_type: 'stream', name: 'stdout', text: 'loading \x1b[32mok\x1b[0m' }),
    end(1, 'ok', 420),
    start(3, 1, 'model.fit(x, y)  # ' + 'a very long comment '.repeat(6), 'train'),
    output(3, { output_type: 'stream', name: 'stderr', text: 'warn: slow' }),
    output(3, {
      output_type: 'execute_result',
      execution_count: 2,
      data: { 'text/plain': '0.5' },
      metadata: {},
    }),
    output(3, { output_type: 'display_data', data: { 'image/png': PNG_1X1 }, metadata: {} }),
    output(3, {
      output_type: 'display_data',
      data: { [METRIC]: { name: 'accuracy', value: 0.93 }, 'text/plain': 'ignored' },
      metadata: {},
    }),
    { type: 'output-clear', runId: RUN, index: 3 },
    {
      type: 'output-update',
      runId: RUN,
      index: 3,
      outputIndex: 1,
      output: { output_type: 'display_data', data: { 'text/plain': 'epoch 2' }, metadata: {} },
    },
    end(3, 'ok', 1234),
    start(5, 2, 'evaluate(0)', 'train'),
    output(5, {
      output_type: 'error',
      ename: 'ZeroDivisionError',
      evalue: 'division by zero',
      traceback: ZERO_DIVISION_TRACEBACK,
    }),
    end(5, 'error', 10, {
      ename: 'ZeroDivisionError',
      evalue: 'division by zero',
      traceback: ZERO_DIVISION_TRACEBACK,
    }),
    end(6, 'aborted', 0),
    {
      type: 'run-end',
      runId: RUN,
      at: AT,
      status: 'failed',
      durationMs: 3210,
      error: {
        code: 'NBSTAGE_CELL_FAILED',
        message: 'cell 5 raised ZeroDivisionError: division by zero',
        cell_index: 5,
      },
      notebook: executedNotebook([]),
    },
  ];
}

function play(events: RunEvent[], color: boolean, showHeaders?: boolean) {
  const c = consoles();
  const sink = createConsoleSink({ stdout: c.stdout, stderr: c.stderr, color, showHeaders });
  for (const event of events) {
    void sink(event);
  }
  return c;
}

describe('createConsoleSink without colour', () => {
  const c = play(failingRun(), false);

  it('writes not a single escape sequence', () => {
    expect(c.merged()).not.toContain('\x1b');
  });

  it('streams stdout and results to stdout, in order, with headers and footers', () => {
    expect(c.only('out')).toBe(
      [
        'nbstage: run run-1 on kernel python3 · 3 cells · stages train',
        '── [1/3] cell 1 · print("loading", end="")',
        'loading ok',
        '   ✓ 0.42 s',
        '── [2/3] cell 3 · stage train · model.fit(x, y)  # a very long comment a very long comment…',
        '0.5',
        '[image/png 70 B]',
        'metric accuracy = 0.93',
        '[update] epoch 2',
        '   ✓ 1.23 s',
        '── [3/3] cell 5 · stage train · evaluate(0)',
        '   ✗ error ZeroDivisionError (0.01 s)',
        '   ↷ cell 6 not run (an earlier cell failed)',
        '',
      ].join('\n'),
    );
  });

  it('sends stderr, tracebacks (stripped) and the failure summary to stderr', () => {
    const err = c.only('err');
    expect(err).toContain('warn: slow\n');
    expect(err).toContain('----> 4 evaluate(0)\n');
    expect(err).toContain('ZeroDivisionError: division by zero\n');
    expect(
      err.endsWith(
        'nbstage: failed in 3.21 s — 3 cells, 1 failed, 1 not run: ' +
          'cell 5 raised ZeroDivisionError: division by zero\n',
      ),
    ).toBe(true);
  });

  it('ends unfinished stream lines before the next line of its own, on either stream', () => {
    const merged = c.merged();
    expect(merged).toContain('loading ok\n   ✓ 0.42 s\n');
    expect(merged).toContain('warn: slow\n0.5\n');
    for (const line of merged.split('\n')) {
      if (line.includes('──') || line.includes('✓') || line.includes('nbstage:')) {
        expect(line).toMatch(/^(──| {3}[✓✗↷]|nbstage:)/);
      }
    }
  });
});

describe('createConsoleSink with colour', () => {
  const c = play(failingRun(), true);

  it('colours headers, footers and the summary, and keeps ANSI in outputs', () => {
    const out = c.only('out');
    expect(out).toContain('\x1b[1;36m── [1/3] cell 1 · print("loading", end="")\x1b[0m\n');
    expect(out).toContain('loading \x1b[32mok\x1b[0m\n');
    expect(out).toContain('\x1b[32m✓ 0.42 s\x1b[0m');
    expect(out).toContain('\x1b[31m✗ error ZeroDivisionError (0.01 s)\x1b[0m');
    expect(c.only('err')).toContain(ZERO_DIVISION_TRACEBACK[3]);
    expect(c.only('err')).toContain('\x1b[1;31mnbstage: failed in 3.21 s');
  });
});

describe('createConsoleSink for other outcomes', () => {
  it('writes a successful summary to stdout', () => {
    const c = play(
      [
        start(0, 0, 'x = 1'),
        end(0, 'ok', 5),
        end(1, 'skipped', 0),
        {
          type: 'run-end',
          runId: RUN,
          at: AT,
          status: 'completed',
          durationMs: 3200,
          notebook: executedNotebook([]),
        },
      ],
      false,
    );
    expect(c.only('out')).toContain('   ↷ cell 1 skipped (skip-execution)\n');
    expect(
      c.only('out').endsWith('nbstage: completed in 3.20 s — 1 cell, 0 failed, 1 not run\n'),
    ).toBe(true);
    expect(c.only('err')).toBe('');
  });

  it('names timeouts, dead kernels and cancellations in footers', () => {
    const c = play(
      [
        start(0, 0, 'sleep(100)'),
        end(0, 'timeout', 30000),
        start(1, 1, 'crash()'),
        end(1, 'kernel_died', 1500),
        start(2, 2, 'loop()'),
        end(2, 'cancelled', 700),
      ],
      false,
    );
    const out = c.only('out');
    expect(out).toContain('   ✗ timed out after 30.0 s\n');
    expect(out).toContain('   ✗ kernel died (1.50 s)\n');
    expect(out).toContain('   ✗ cancelled (0.70 s)\n');
  });

  it("says after a cell's footer whether its outputs match the baseline", () => {
    const withCheck = (event: RunEvent, check: object): RunEvent =>
      ({ ...event, check }) as RunEvent;
    const c = play(
      [
        start(0, 0, 'acc'),
        withCheck(end(0, 'ok', 100), { status: 'same', against: 'build 41 (last success)' }),
        start(1, 1, 'loss'),
        withCheck(end(1, 'ok', 100), {
          status: 'differs',
          against: 'build 41 (last success)',
          message: 'output 1 (stream stdout): 0.1 became 0.2 (rtol 1e-06)',
        }),
      ],
      false,
    );
    expect(c.only('out')).toBe(
      '── [1/3] cell 0 · acc\n   ✓ 0.10 s\n   = outputs match build 41 (last success)\n' +
        '── [2/3] cell 1 · loss\n   ✓ 0.10 s\n' +
        '   ≠ outputs differ from build 41 (last success): ' +
        'output 1 (stream stdout): 0.1 became 0.2 (rtol 1e-06)\n',
    );
  });

  it("adds a cell's peak memory to its footer when the cell-end carries one", () => {
    const withPeak = (event: RunEvent, peakRssBytes: number): RunEvent =>
      ({ ...event, peakRssBytes }) as RunEvent;
    const c = play(
      [
        start(0, 0, 'x = load()'),
        withPeak(end(0, 'ok', 400), 390_175_539),
        start(1, 1, 'fit(x)'),
        withPeak(
          end(1, 'error', 1200, { ename: 'MemoryError', evalue: '', traceback: [] }),
          8 * 2 ** 30,
        ),
        start(2, 2, 'y = 1'),
        end(2, 'ok', 5),
      ],
      false,
    );
    expect(c.only('out')).toBe(
      '── [1/3] cell 0 · x = load()\n   ✓ 0.40 s, peak 372.1 MiB\n' +
        '── [2/3] cell 1 · fit(x)\n   ✗ error MemoryError (1.20 s, peak 8 GiB)\n' +
        '── [3/3] cell 2 · y = 1\n   ✓ 0.01 s\n',
    );
  });

  it('prints only outputs and the summary when headers are off', () => {
    const c = play(failingRun(), false, false);
    const out = c.only('out');
    expect(out).not.toContain('──');
    expect(out).not.toContain('✓');
    expect(out.startsWith('loading ok\n0.5\n')).toBe(true);
    expect(c.only('err')).toContain('nbstage: failed in 3.21 s');
  });
});

describe('describeBundle', () => {
  it('prefers a metric, then text/plain, then names the richest mimetype with its size', () => {
    expect(describeBundle({ [METRIC]: { name: 'm', value: [1, 2] } })).toBe('metric m = [1,2]');
    expect(describeBundle({ 'text/plain': 'x\n', 'text/html': '<b>x</b>' })).toBe('x');
    expect(describeBundle({ 'text/html': '<b>x</b>', 'image/png': PNG_1X1 })).toBe(
      '[image/png 70 B]',
    );
    expect(describeBundle({ 'text/html': 'é'.repeat(1000) })).toBe('[text/html 2.0 kB]');
    expect(describeBundle({})).toBe('[empty output]');
  });
});
