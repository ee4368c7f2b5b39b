/**
 * Comparing two versions of a notebook: line diffs, cells matched by id (by position without
 * one), outputs as text before and after (images only as changed), metrics, parameters,
 * status and the recorded environments; timing metadata and execution counts are not
 * differences.
 */
import type { CodeCell, JSONObject, Notebook, Output } from '../../../pipelines/notebook/model';
import { METRIC_MIME } from '../../../pipelines/reports/run-metadata';
import { diffText } from '../../../server/store/line-diff';
import type { DiffSide } from '../../../server/store/notebook-diff';
import { diffVersions, matchCells, outputText } from '../../../server/store/notebook-diff';
import { makeNotebook } from '../../helpers/notebooks';

function side(build: string, notebook: Notebook, run: JSONObject = {}): DiffSide {
  return { build, commit: `commit-${build}`, notebook, run };
}

function withOutputs(nb: Notebook, index: number, outputs: Output[]): Notebook {
  (nb.cells[index] as CodeCell).outputs = outputs;
  return nb;
}

describe('diffText', () => {
  it('keeps common lines and marks removed and added ones', () => {
    expect(diffText('a\nb\nc\n', 'a\nB\nc\nd\n')).toEqual([
      { op: ' ', line: 'a' },
      { op: '-', line: 'b' },
      { op: '+', line: 'B' },
      { op: ' ', line: 'c' },
      { op: '+', line: 'd' },
    ]);
    expect(diffText('', 'x')).toEqual([{ op: '+', line: 'x' }]);
    expect(diffText('same', 'same')).toEqual([{ op: ' ', line: 'same' }]);
  });

  it('finds the longest common subsequence in the middle', () => {
    const ops = diffText('x\na\nb\nc\ny', 'x\nb\nc\nd\ny').map((l) => `${l.op}${l.line}`);
    expect(ops).toEqual([' x', '-a', ' b', ' c', '+d', ' y']);
  });
});

describe('matchCells', () => {
  it('matches by id, then by position for cells without an id', () => {
    const a = makeNotebook(['1', '2', '3']).cells;
    const b = makeNotebook(['1', '2', '3']).cells;
    b.reverse(); // ids c2, c1, c0
    expect(matchCells(a, b)).toEqual({ aToB: [2, 1, 0], bToA: [2, 1, 0] });
    const noIds = makeNotebook(['1', '2']).cells.map((c) => ({ ...c, id: undefined }));
    expect(matchCells(noIds, noIds)).toEqual({ aToB: [0, 1], bToA: [0, 1] });
  });

  it('does not pair two cells with different ids by position', () => {
    const a = makeNotebook(['1']).cells;
    const b = makeNotebook(['1']).cells.map((c) => ({ ...c, id: 'other' }));
    expect(matchCells(a, b)).toEqual({ aToB: [-1], bToA: [-1] });
  });

  it("pairs the two builds' injected-parameters cells, whatever their ids", () => {
    const injected = (source: string, id: string) => ({
      ...makeNotebook([{ source, tags: ['injected-parameters'] }]).cells[0],
      id,
    });
    const a = [...makeNotebook(['x = 1']).cells, injected('x = 2', 'run-a')];
    const b = [...makeNotebook(['x = 1']).cells, injected('x = 3', 'run-b')];
    expect(matchCells(a, b)).toEqual({ aToB: [0, 1], bToA: [0, 1] });
    const diff = diffVersions(
      'j',
      side('1', { ...makeNotebook([]), cells: a }),
      side('2', { ...makeNotebook([]), cells: b }),
    );
    expect(diff.cells.map((c) => [c.change, c.indexA, c.indexB])).toEqual([['modified', 1, 1]]);
  });
});

describe('diffVersions', () => {
  it('reports changed sources, outputs, metrics, parameters and status', () => {
    const a = withOutputs(makeNotebook(['lr = 0.1', 'print(loss)', 'plot()']), 1, [
      { output_type: 'stream', name: 'stdout', text: 'loss 0.3\n' },
    ]);
    withOutputs(a, 2, [
      {
        output_type: 'display_data',
        data: { 'image/png': 'AAAA', 'text/plain': 'Fig' },
        metadata: {},
      },
    ]);
    const b = withOutputs(makeNotebook(['lr = 0.2', 'print(loss)', 'plot()']), 1, [
      { output_type: 'stream', name: 'stdout', text: 'loss 0.2\n' },
    ]);
    withOutputs(b, 2, [
      {
        output_type: 'display_data',
        data: { 'image/png': 'BBBB', 'text/plain': 'Fig' },
        metadata: {},
      },
    ]);
    const diff = diffVersions(
      'job',
      side('1', a, {
        status: 'completed',
        metrics: { acc: 0.9, loss: 0.3 },
        parameters: { lr: 0.1 },
      }),
      side('2', b, { status: 'failed', metrics: { acc: 0.9, f1: 0.5 }, parameters: { lr: 0.2 } }),
    );
    expect(diff.status).toEqual({ a: 'completed', b: 'failed', changed: true });
    expect(diff.metrics).toEqual([
      { name: 'f1', a: null, b: 0.5 },
      { name: 'loss', a: 0.3, b: null },
    ]);
    expect(diff.parameters).toEqual([{ name: 'lr', a: 0.1, b: 0.2 }]);
    expect(diff.cells.map((c) => [c.indexB, c.change])).toEqual([
      [0, 'modified'],
      [1, 'modified'],
      [2, 'modified'],
    ]);
    expect(diff.cells[0].source).toEqual([
      { op: '-', line: 'lr = 0.1' },
      { op: '+', line: 'lr = 0.2' },
    ]);
    expect(diff.cells[0].outputs).toEqual([]);
    expect(diff.cells[1].source).toBeNull();
    expect(diff.cells[1].outputs).toEqual([
      {
        index: 0,
        outputType: 'stream:stdout',
        kind: 'text',
        change: 'changed',
        a: 'loss 0.3\n',
        b: 'loss 0.2\n',
      },
    ]);
    expect(diff.cells[2].outputs).toEqual([
      {
        index: 0,
        outputType: 'display_data',
        kind: 'image',
        change: 'changed',
        a: null,
        b: null,
        mime: 'image/png',
      },
    ]);
  });

  it('places added and removed cells, and ignores counts and timing metadata', () => {
    const a = makeNotebook(['keep', 'gone', 'tail']);
    const b = makeNotebook(['keep', 'tail', 'new']);
    b.cells[1].id = 'c2'; // "tail" keeps its id
    b.cells[2].id = 'c9';
    (b.cells[0] as CodeCell).execution_count = 7;
    b.cells[0].metadata.execution = { 'iopub.status.idle': '2026-01-01T00:00:00Z' };
    const diff = diffVersions('job', side('1', a), side('2', b));
    expect(diff.cells.map((c) => [c.change, c.indexA, c.indexB, c.id])).toEqual([
      ['removed', 1, null, 'c1'],
      ['added', null, 2, 'c9'],
    ]);
    expect(diff.cells[0].source).toEqual([{ op: '-', line: 'gone' }]);
    expect(diff.cells[1].source).toEqual([{ op: '+', line: 'new' }]);
    expect(diff.status.changed).toBe(false);
  });

  it('falls back to the notebook metadata for status and metrics', () => {
    const a = makeNotebook(['x']);
    const b = makeNotebook(['x']);
    a.metadata.nbstage = { status: 'completed', metrics: { acc: 1 } };
    b.metadata.nbstage = { status: 'completed', metrics: { acc: 2 } };
    const diff = diffVersions('job', side('1', a), side('2', b));
    expect(diff.status).toEqual({ a: 'completed', b: 'completed', changed: false });
    expect(diff.metrics).toEqual([{ name: 'acc', a: 1, b: 2 }]);
    expect(diff.cells).toEqual([]);
  });

  it("compares the environments: run.json's when it has one, else the notebook's", () => {
    const env = (numpy: string, commit: string): JSONObject => ({
      host: 'vm',
      python: { version: '3.11.7' },
      packages: { numpy },
      git: { commit, dirty: false, untracked: 0, branch: 'main' },
    });
    const a = makeNotebook(['x']);
    const b = makeNotebook(['x']);
    a.metadata.nbstage = { environment: env('1.26.4', '1ac1') };
    b.metadata.nbstage = { environment: env('9.9.9', 'ffff') };
    // B's run.json carries the record the service copied there; it wins over the notebook's.
    const diff = diffVersions(
      'job',
      side('1', a),
      side('2', b, { environment: env('2.0.0', '2bd2') }),
    );
    expect(diff.environment).toEqual({
      packages: {
        added: [],
        removed: [],
        changed: [{ name: 'numpy', from: '1.26.4', to: '2.0.0' }],
      },
      changes: [{ field: 'git.commit', from: '1ac1', to: '2bd2' }],
      recorded: { a: true, b: true },
    });
    // A run.json environment that is not an object is not a record: the notebook's counts.
    const same = diffVersions('job', side('1', a, { environment: null }), side('2', a));
    expect(same.environment.changes).toEqual([]);
    expect(same.environment.recorded).toEqual({ a: true, b: true });
    const none = diffVersions('job', side('1', makeNotebook(['x'])), side('2', a));
    expect(none.environment.recorded).toEqual({ a: false, b: true });
  });
});

describe('outputText', () => {
  it('reads streams, results, metrics and errors without ANSI', () => {
    expect(outputText({ output_type: 'stream', name: 'stdout', text: ['a\n', 'b'] })).toBe('a\nb');
    expect(
      outputText({
        output_type: 'execute_result',
        execution_count: 1,
        data: { 'text/plain': '42', 'text/html': '<b>42</b>' },
        metadata: {},
      }),
    ).toBe('42');
    expect(
      outputText({
        output_type: 'display_data',
        data: { [METRIC_MIME]: { name: 'acc', value: 0.5 } },
        metadata: {},
      }),
    ).toBe('acc = 0.5');
    expect(
      outputText({
        output_type: 'error',
        ename: 'ValueError',
        evalue: 'bad',
        traceback: ['\u001b[31mValueError\u001b[39m: bad'],
      }),
    ).toBe('ValueError: bad\nValueError: bad');
  });
});
