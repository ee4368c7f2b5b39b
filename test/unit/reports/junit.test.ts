import { renderJUnit } from '../../../pipelines/reports/junit';
import {
  ZERO_DIVISION_TRACEBACK,
  codeCell,
  display,
  error,
  executedNotebook,
  markdownCell,
  result,
  stream,
} from './notebook-fixtures';
import { findAll, parseXml } from './python-parsers';
import type { XmlNode } from './python-parsers';
import { METRIC_MIME as METRIC } from '../../../pipelines/reports/run-metadata';

/** A failed run over every cell status, with colours and awkward characters in the outputs. */
function failedRun() {
  return executedNotebook(
    [
      markdownCell('# Title'),
      codeCell('import numpy as np\nx = 1', { status: 'ok', durationMs: 12 }, [], 1),
      codeCell(
        'print("hello")',
        { status: 'ok', durationMs: 420, stage: 'train' },
        [
          stream('stdout', 'hello \x1b[32mgreen\x1b[0m\n'),
          stream('stdout', 'no newline'),
          stream('stderr', 'warn\x00ing \x1b[33m<careful>\x1b[0m & "quotes"\n'),
          result({ 'text/plain': "{'a': 1}" }, 2),
          display({ 'text/html': '<b>x</b>', 'text/plain': '<IPython.core.display.HTML object>' }),
          display({ [METRIC]: { name: 'accuracy', value: 0.93 } }),
        ],
        2,
      ),
      codeCell(
        'evaluate(0)',
        { status: 'error', durationMs: 9, stage: 'model.eval' },
        [error('ZeroDivisionError', 'division by zero', ZERO_DIVISION_TRACEBACK)],
        3,
      ),
      codeCell('sleep(100)', { status: 'timeout', durationMs: 30000, stage: 'train' }),
      codeCell('os.kill(os.getpid(), 9)', { status: 'kernel_died', durationMs: 5 }),
      codeCell('while True: pass', { status: 'cancelled', durationMs: 1500 }),
      codeCell('%%skip', { status: 'skipped', stage: 'train' }),
      codeCell('print("after")', { status: 'aborted', stage: 'train' }),
      codeCell('print("not in this run")'),
    ],
    {
      status: 'failed',
      stages: ['train'],
      parameters: { epochs: 3, name: 'a\x1b[31mb' },
      metrics: {
        accuracy: 0.93,
        confusion: [
          [1, 2],
          [3, 4],
        ],
        label: 'best <model>',
      },
      exception: { cell_index: 3, ename: 'ZeroDivisionError', evalue: 'division by zero' },
    },
  );
}

function testcases(root: XmlNode): XmlNode[] {
  return findAll(root, 'testcase');
}

describe('renderJUnit', () => {
  const xml = renderJUnit(failedRun(), { suiteName: 'ml/train #42', notebookName: 'train.ipynb' });
  const root = parseXml(xml);

  it('is well-formed XML with no ANSI and no characters illegal in XML 1.0', () => {
    expect(root.tag).toBe('testsuites');
    expect(xml).not.toContain('\x1b');
    // eslint-disable-next-line no-control-regex
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  });

  it('has one suite with counts, time and timestamp', () => {
    const suites = findAll(root, 'testsuite');
    expect(suites).toHaveLength(1);
    expect(suites[0].attrs).toEqual({
      name: 'ml/train #42',
      tests: '8',
      failures: '1',
      errors: '3',
      skipped: '2',
      time: '3.210',
      timestamp: '2025-05-01T12:00:00',
    });
    expect(root.attrs.tests).toBe('8');
  });

  it('has one test case per cell with a run status, named by index and first line', () => {
    const cases = testcases(root);
    expect(cases.map((c) => c.attrs.name)).toEqual([
      'cell 1: import numpy as np',
      'cell 2: print("hello")',
      'cell 3: evaluate(0)',
      'cell 4: sleep(100)',
      'cell 5: os.kill(os.getpid(), 9)',
      'cell 6: while True: pass',
      'cell 7: %%skip',
      'cell 8: print("after")',
    ]);
  });

  it('groups test cases by notebook and stage, without dots that Jenkins would split on', () => {
    const classnames = testcases(root).map((c) => c.attrs.classname);
    expect(classnames).toEqual([
      'train.preamble',
      'train.train',
      'train.model_eval',
      'train.train',
      'train.preamble',
      'train.preamble',
      'train.train',
      'train.train',
    ]);
  });

  it('gives each case its time in seconds', () => {
    expect(testcases(root).map((c) => c.attrs.time)).toEqual([
      '0.012',
      '0.420',
      '0.009',
      '30.000',
      '0.005',
      '1.500',
      '0.000',
      '0.000',
    ]);
  });

  it('reports an error cell as a failure with the plain traceback', () => {
    const failure = findAll(testcases(root)[2], 'failure');
    expect(failure).toHaveLength(1);
    expect(failure[0].attrs).toEqual({
      message: 'ZeroDivisionError: division by zero',
      type: 'ZeroDivisionError',
    });
    expect(failure[0].text).toContain('----> 4 evaluate(0)');
    expect(failure[0].text).toContain('ZeroDivisionError: division by zero');
  });

  it('reports timeouts, dead kernels and cancellations as errors', () => {
    const [timeout, died, cancelled] = testcases(root)
      .slice(3, 6)
      .map((c) => findAll(c, 'error')[0]);
    expect(timeout.attrs.type).toBe('Timeout');
    expect(timeout.attrs.message).toContain('30.0 s');
    expect(died.attrs.type).toBe('KernelDied');
    expect(cancelled.attrs.type).toBe('Cancelled');
  });

  it('reports skipped and aborted cells as skipped with their reason', () => {
    const [skipped, aborted] = testcases(root)
      .slice(6, 8)
      .map((c) => findAll(c, 'skipped')[0]);
    expect(skipped.attrs.message).toBe('skip-execution');
    expect(aborted.attrs.message).toBe('not run: an earlier cell failed');
  });

  it('puts stdout and results in system-out and stderr in system-err, without ANSI', () => {
    const cell = testcases(root)[1];
    const out = findAll(cell, 'system-out')[0].text;
    const err = findAll(cell, 'system-err')[0].text;
    expect(out).toBe("hello green\nno newline\n{'a': 1}\nmetric accuracy = 0.93\n");
    expect(err).toBe('warning <careful> & "quotes"\n');
    expect(findAll(testcases(root)[0], 'system-out')).toHaveLength(0);
  });

  it('lists metrics, parameters, kernel, run id and status as suite properties', () => {
    const props = Object.fromEntries(
      findAll(root, 'property').map((p) => [p.attrs.name, p.attrs.value]),
    );
    expect(props).toMatchObject({
      kernel: 'python3',
      run_id: 'run-123',
      status: 'failed',
      'metric.accuracy': '0.93',
      'metric.confusion': '[[1,2],[3,4]]',
      'metric.label': 'best <model>',
      'parameter.epochs': '3',
      'parameter.name': 'ab',
    });
  });

  it('keeps newlines in attribute values as character references', () => {
    const nb = executedNotebook([
      codeCell('raise ValueError("a\\nb")', { status: 'error', durationMs: 1 }, [
        error('ValueError', 'line one\nline two\ttab', []),
      ]),
    ]);
    const out = renderJUnit(nb, { suiteName: 's', notebookName: 'n' });
    const failure = findAll(parseXml(out), 'failure')[0];
    expect(failure.attrs.message).toBe('ValueError: line one\nline two\ttab');
    expect(failure.text).toBe('ValueError: line one\nline two\ttab');
  });

  it('truncates long first lines and copes with lone surrogates and control characters', () => {
    const long = `x = "${'a'.repeat(100)}"`;
    const nb = executedNotebook(
      [
        codeCell(long, { status: 'ok', durationMs: 1 }, [
          stream('stdout', 'bad \ud800 surrogate \x07 bell \x1b[31m'),
        ]),
      ],
      { metrics: {} },
    );
    const out = renderJUnit(nb, { suiteName: 's', notebookName: 'n' });
    const tc = testcases(parseXml(out))[0];
    expect(Array.from(tc.attrs.name).length).toBeLessThanOrEqual('cell 0: '.length + 60);
    expect(tc.attrs.name.endsWith('…')).toBe(true);
    expect(findAll(tc, 'system-out')[0].text).toBe('bad  surrogate  bell ');
  });

  it("gives a cell's test case its peak memory as a property, and none to a cell without one", () => {
    const measured = codeCell('x = load()', { status: 'ok', durationMs: 400 }, [
      stream('stdout', 'loaded\n'),
    ]);
    measured.metadata.nbstage = { ...measured.metadata.nbstage, peak_rss_bytes: 390175539 };
    const failed = codeCell('fit(x)', { status: 'error', durationMs: 9 }, [
      error('MemoryError', '', []),
    ]);
    failed.metadata.nbstage = {
      ...failed.metadata.nbstage,
      peak_rss_bytes: 8589934592,
      peak_gpu_memory_bytes: 42949672960,
    };
    const unmeasured = codeCell('y = 1', { status: 'ok', durationMs: 5 });
    const nb = executedNotebook([measured, failed, unmeasured], {
      status: 'failed',
      run_id: 'run-9',
    });
    const xml = renderJUnit(nb, { suiteName: 's', notebookName: 'n.ipynb' });
    expect(xml).toContain(
      [
        '    <properties>',
        '      <property name="kernel" value="python3"/>',
        '      <property name="run_id" value="run-9"/>',
        '      <property name="status" value="failed"/>',
        '    </properties>',
        '    <testcase classname="n.preamble" name="cell 0: x = load()" time="0.400">',
        '      <properties>',
        '        <property name="peak_rss_bytes" value="390175539"/>',
        '      </properties>',
        '      <system-out>loaded\n</system-out>',
        '    </testcase>',
        '    <testcase classname="n.preamble" name="cell 1: fit(x)" time="0.009">',
        '      <properties>',
        '        <property name="peak_rss_bytes" value="8589934592"/>',
        '        <property name="peak_gpu_memory_bytes" value="42949672960"/>',
        '      </properties>',
        '      <failure message="MemoryError" type="MemoryError">MemoryError: </failure>',
        '    </testcase>',
        '    <testcase classname="n.preamble" name="cell 2: y = 1" time="0.005"/>',
        '  </testsuite>',
      ].join('\n'),
    );
    const cases = testcases(parseXml(xml));
    expect(findAll(cases[0], 'property').map((p) => p.attrs)).toEqual([
      { name: 'peak_rss_bytes', value: '390175539' },
    ]);
    expect(findAll(cases[2], 'properties')).toHaveLength(0);
  });

  it('renders an empty suite for a notebook no run has touched', () => {
    const nb = executedNotebook([codeCell('1 + 1')]);
    delete nb.metadata.nbstage;
    const out = parseXml(renderJUnit(nb, { suiteName: 's', notebookName: 'n.ipynb' }));
    const suite = findAll(out, 'testsuite')[0];
    expect(suite.attrs.tests).toBe('0');
    expect(suite.attrs.timestamp).toBeUndefined();
    expect(testcases(out)).toHaveLength(0);
  });
});
