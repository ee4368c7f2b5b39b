/**
 * compareNotebooks on small real notebooks: cells matched by id and by position, nbval's
 * output rules (merged streams, mime bundles, errors by ename/evalue), markers, lax mode,
 * per-cell rtol, and the messages and diffs a difference comes with.
 */
import { PNG } from 'pngjs';
import { ValidationError } from '../../../pipelines/errors/classes';
import { compareNotebooks } from '../../../pipelines/checks/compare';
import type { CodeCell, MimeBundle, Notebook, Output } from '../../../pipelines/notebook/model';

function code(source: string, outputs: Output[], extra: Partial<CodeCell> = {}): CodeCell {
  return { cell_type: 'code', source, metadata: {}, execution_count: 1, outputs, ...extra };
}
function notebook(...cells: Notebook['cells']): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}
const stdout = (text: string): Output => ({ output_type: 'stream', name: 'stdout', text });
const stderr = (text: string): Output => ({ output_type: 'stream', name: 'stderr', text });
const result = (data: MimeBundle): Output => ({
  output_type: 'execute_result',
  execution_count: 1,
  data,
  metadata: {},
});
const error = (ename: string, evalue: string, line: number): Output => ({
  output_type: 'error',
  ename,
  evalue,
  traceback: [`File "<cell>", line ${line}`, `${ename}: ${evalue}`],
});
const markdown = { cell_type: 'markdown' as const, source: '# Title', metadata: {} };

describe('compareNotebooks', () => {
  it('finds runs equal after normalizing and within rtol', () => {
    const baseline = notebook(
      markdown,
      code('print(object()); print(acc)', [
        stdout('<object object at 0x7f517e6c46f0>\n'),
        stdout('0.91\n'),
      ]),
      code('acc', [result({ 'text/plain': '0.9100000', 'text/html': '<b>0.91</b>' })], {
        execution_count: 2,
      }),
    );
    const actual = notebook(
      markdown,
      code(
        'print(object()); print(acc)',
        [stdout('<object object at 0x7f7ddaa6c6f0>\n0.9100001\n')],
        { execution_count: 7 },
      ),
      code('acc', [result({ 'text/html': '<b>0.91</b>', 'text/plain': '0.91' })], {
        execution_count: 8,
      }),
    );
    expect(compareNotebooks(actual, baseline, { rtol: 1e-6 })).toEqual([
      { index: 1, baselineIndex: 1, status: 'same' },
      { index: 2, baselineIndex: 2, status: 'same' },
    ]);
  });

  it('reports the first differing number with a unified diff', () => {
    const baseline = notebook(
      code('acc', [stdout('training\n'), result({ 'text/plain': '0.91' })]),
    );
    const actual = notebook(code('acc', [stdout('training\n'), result({ 'text/plain': '0.87' })]));
    const [check] = compareNotebooks(actual, baseline, { rtol: 1e-6 });
    expect(check.status).toBe('differs');
    expect(check.message).toBe('output 2 (text/plain): 0.91 became 0.87 (rtol 1e-06)');
    expect(check.diff).toBe(
      [
        '--- baseline cell 0',
        '+++ actual cell 0',
        '@@ -1,4 +1,4 @@',
        ' [stdout]',
        ' training',
        ' [text/plain]',
        '-0.91',
        '+0.87',
        '',
      ].join('\n'),
    );
  });

  it('keeps stdout and stderr apart and merges each stream', () => {
    const baseline = notebook(code('x', [stdout('a\n'), stderr('warn\n'), stdout('b\n')]));
    const merged = notebook(code('x', [stdout('a\nb\n'), stderr('warn\n')]));
    expect(compareNotebooks(merged, baseline, { rtol: 0 })[0].status).toBe('same');
    const swapped = notebook(code('x', [stdout('a\nb\nwarn\n')]));
    expect(compareNotebooks(swapped, baseline, { rtol: 0 })[0]).toMatchObject({
      status: 'differs',
      message: 'baseline output 2 (stderr) is missing from this run',
    });
    const longer = notebook(code('x', [stdout('a\nb\nmore\n'), stderr('warn\n')]));
    expect(compareNotebooks(longer, baseline, { rtol: 0 })[0].message).toBe(
      'output 1 (stdout), line 2: "\\nmore" added at the end',
    );
  });

  it('finds a cell that prints different from a baseline cell that ran silently', () => {
    const baseline = notebook(code('x = 1', []));
    const actual = notebook(code('x = 1', [stdout('debug: x=1\n')]));
    expect(compareNotebooks(actual, baseline, { rtol: 0 })[0]).toMatchObject({
      status: 'differs',
      message: 'output 1 (stdout) is new: the baseline cell has no stdout output',
    });
  });

  it('compares errors by ename and evalue, not by traceback', () => {
    const baseline = notebook(code('f()', [error('ValueError', 'bad value 3', 10)]));
    const sameError = notebook(code('f()', [error('ValueError', 'bad value 3', 12)]));
    expect(compareNotebooks(sameError, baseline, { rtol: 0 })[0].status).toBe('same');
    expect(
      compareNotebooks(notebook(code('f()', [error('KeyError', 'bad value 3', 10)])), baseline, {
        rtol: 0,
      })[0],
    ).toMatchObject({
      status: 'differs',
      message: 'output 1 (error): ValueError became KeyError',
    });
    expect(
      compareNotebooks(notebook(code('f()', [error('ValueError', 'bad value 4', 10)])), baseline, {
        rtol: 0,
      })[0],
    ).toMatchObject({
      status: 'differs',
      message: 'output 1 (error): 3 became 4 (rtol 0)',
    });
  });

  it('matches cells by id first, else by position with the same source', () => {
    const baseline = notebook(
      code('a = 1', [stdout('1\n')], { id: 'aaaa' }),
      code('print(b)', [stdout('2\n')]),
      code('print(c)', [stdout('3\n')]),
    );
    // The run moved cell "aaaa" last and edited the third cell.
    const actual = notebook(
      code('print(b)', [stdout('2\n')]),
      code('print(c + 1)', [stdout('4\n')]),
      code('a = 1', [stdout('1\n')], { id: 'aaaa' }),
    );
    expect(compareNotebooks(actual, baseline, { rtol: 0 })).toEqual([
      {
        index: 0,
        status: 'skipped',
        reason: 'no matching cell in the baseline (by id, or by position and source)',
      },
      {
        index: 1,
        status: 'skipped',
        reason: 'no matching cell in the baseline (by id, or by position and source)',
      },
      { index: 2, cellId: 'aaaa', baselineIndex: 0, status: 'same' },
    ]);
    // Without the moved cell, positions line up and equal sources match.
    const inPlace = notebook(
      code('a = 2', [stdout('1\n')]),
      code('print(b)', [stdout('2\n')]),
      code('print(c)', [stdout('30\n')]),
    );
    expect(
      compareNotebooks(inPlace, baseline, { rtol: 0 }).map((c) => [c.status, c.baselineIndex]),
    ).toEqual([
      ['skipped', undefined],
      ['same', 1],
      ['differs', 2],
    ]);
  });

  it('skips cells marked by tags or comments, and what never ran', () => {
    const cells = [
      code('x', [stdout('1\n')], { metadata: { tags: ['nbstage-ignore-output'] } }),
      code('x', [stdout('1\n')], { metadata: { tags: ['nbval-ignore-output'] } }),
      code('# NBVAL_IGNORE_OUTPUT\nx', [stdout('1\n')]),
      code('x', [stdout('1\n')], { metadata: { tags: ['nbval-skip'] } }),
      code('  # NBVAL_SKIP\nx', [stdout('1\n')]),
      code('y', [stdout('1\n')], { execution_count: null, outputs: [] }),
    ];
    const baseline = notebook(
      ...cells.map((c) => ({ ...c, outputs: [stdout('2\n')], execution_count: 1 })),
    );
    baseline.cells[5] = { ...cells[5], outputs: [] };
    const actual = notebook(...cells.slice(0, 5), {
      ...cells[5],
      outputs: [stdout('new\n')],
      execution_count: 3,
    });
    expect(compareNotebooks(actual, baseline, { rtol: 0 }).map((c) => c.reason)).toEqual([
      'tagged nbstage-ignore-output',
      'marked NBVAL_IGNORE_OUTPUT',
      'marked NBVAL_IGNORE_OUTPUT',
      'marked NBVAL_SKIP',
      'marked NBVAL_SKIP',
      'the baseline cell never ran (its execution_count is null)',
    ]);
  });

  it('compares in lax mode only cells marked NBVAL_CHECK_OUTPUT', () => {
    const baseline = notebook(
      code('x', [stdout('1\n')]),
      code('# NBVAL_CHECK_OUTPUT\ny', [stdout('1\n')]),
      code('z', [stdout('1\n')], { metadata: { tags: ['nbval-check-output'] } }),
    );
    const actual = notebook(
      code('x', [stdout('2\n')]),
      code('# NBVAL_CHECK_OUTPUT\ny', [stdout('2\n')]),
      code('z', [stdout('1\n')], { metadata: { tags: ['nbval-check-output'] } }),
    );
    expect(
      compareNotebooks(actual, baseline, { rtol: 0, mode: 'lax' }).map((c) => c.status),
    ).toEqual(['skipped', 'differs', 'same']);
    expect(compareNotebooks(actual, baseline, { rtol: 0 }).map((c) => c.status)).toEqual([
      'differs',
      'differs',
      'same',
    ]);
  });

  it("lets a cell's metadata.nbstage.rtol override rtol", () => {
    const baseline = notebook(
      code('a', [stdout('loss 0.50\n')]),
      code('b', [stdout('loss 0.50\n')]),
    );
    const actual = notebook(
      code('a', [stdout('loss 0.52\n')], { metadata: { nbstage: { rtol: 0.05 } } }),
      code('b', [stdout('loss 0.52\n')]),
    );
    const checks = compareNotebooks(actual, baseline, { rtol: 1e-3 });
    expect(checks.map((c) => c.status)).toEqual(['same', 'differs']);
    expect(checks[1].message).toBe('output 1 (stdout): 0.50 became 0.52 (rtol 0.001)');
    const bad = notebook(code('a', [stdout('x\n')], { metadata: { nbstage: { rtol: 'loose' } } }));
    expect(() => compareNotebooks(bad, baseline, { rtol: 0 })).toThrow(ValidationError);
    expect(() => compareNotebooks(actual, baseline, { rtol: -1 })).toThrow(
      /rtol must be a number >= 0/,
    );
  });

  it('compares JSON outputs numerically, images by pixels, and leaves metrics to gates', () => {
    const png = (level: number, red: number): string => {
      const p = new PNG({ width: 8, height: 8 });
      p.data.fill(255);
      p.data[0] = red;
      return PNG.sync.write(p, { deflateLevel: level }).toString('base64');
    };
    const metric = (value: number): Output => ({
      output_type: 'display_data',
      data: { 'application/vnd.nbstage.metric+json': { name: 'accuracy', value } },
      metadata: {},
    });
    const widget = (id: string): MimeBundle => ({
      'application/vnd.jupyter.widget-view+json': { model_id: id, version_major: 2 },
    });
    const baseline = notebook(
      code('m', [metric(0.9), result({ 'application/json': { a: [1, 2.5] }, ...widget('f00') })]),
      code('plot', [
        result({ 'image/png': png(9, 255), 'text/plain': '<Figure size 640x480 with 1 Axes>' }),
      ]),
    );
    const actual = notebook(
      code('m', [
        metric(0.9000001),
        result({ 'application/json': { a: [1, 2.5000001] }, ...widget('ba7') }),
      ]),
      code('plot', [
        result({ 'image/png': png(1, 255), 'text/plain': '<Figure size 640x480 with 1 Axes>' }),
      ]),
    );
    expect(compareNotebooks(actual, baseline, { rtol: 1e-6 }).map((c) => c.status)).toEqual([
      'same',
      'same',
    ]);
    expect(compareNotebooks(actual, baseline, { rtol: 1e-9 })[0].message).toBe(
      'output 2 (application/json), line 4: 2.5 became 2.5000001 (rtol 1e-09)',
    );
    // A recorded metric is left to the gates, whatever its value.
    const metricOnly = (value: number): Notebook => notebook(code('m', [metric(value)]));
    expect(compareNotebooks(metricOnly(0.5), metricOnly(0.9), { rtol: 0 })[0].status).toBe('same');
    const changed = notebook(
      actual.cells[0],
      code('plot', [
        result({ 'image/png': png(1, 0), 'text/plain': '<Figure size 640x480 with 1 Axes>' }),
      ]),
    );
    const check = compareNotebooks(changed, baseline, { rtol: 1e-6 })[1];
    expect(check.message).toBe('output 1 (image/png): 1 of 64 pixels differ (1.56%, tolerance 0%)');
    expect(check.diff).toContain('+[image/png] 1 of 64 pixels differ');
  });
});
