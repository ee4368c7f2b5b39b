/**
 * runChecks, the executor's view of a check plan: a note per cell as it ends (none for a cell
 * that is not compared), and the run's verdict at the end from the cells as they finally stand.
 */
import { cellComparer } from '../../../pipelines/checks/compare';
import { runChecks, type CheckPlan } from '../../../pipelines/checks/verdict';
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';

function code(source: string, text: string | null, tags: string[] = []): CodeCell {
  return {
    cell_type: 'code',
    source,
    metadata: tags.length === 0 ? {} : { tags },
    execution_count: text === null ? null : 1,
    outputs: text === null ? [] : [{ output_type: 'stream', name: 'stdout', text }],
  };
}
const notebook = (...cells: CodeCell[]): Notebook => ({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells,
});

const plan = (baseline: Notebook): CheckPlan => ({
  baseline,
  baselineLabel: 'build 41',
  rtol: 1e-6,
  gates: [],
  baselineMetrics: null,
  comparer: cellComparer,
});

describe('runChecks', () => {
  const baseline = notebook(
    code('a', '1\n'),
    code('b', '2\n'),
    code('c', '3\n', ['nbstage-ignore-output']),
  );

  it('notes each compared cell as it ends, and nothing for a cell it does not compare', () => {
    const checks = runChecks(plan(baseline));
    const nb = notebook(
      code('a', null),
      code('b', null),
      code('c', null, ['nbstage-ignore-output']),
    );
    nb.cells[0] = code('a', '1\n');
    expect(checks.cell(nb, 0)).toEqual({ status: 'same', against: 'build 41' });
    nb.cells[1] = code('b', '2.5\n');
    expect(checks.cell(nb, 1)).toEqual({
      status: 'differs',
      against: 'build 41',
      message: expect.stringContaining('2 became 2.5'),
    });
    nb.cells[2] = code('c', 'anything\n', ['nbstage-ignore-output']);
    expect(checks.cell(nb, 2)).toBeNull();
  });

  it("judges the run from the cells as they finally stand, not from the cells' notes", () => {
    const checks = runChecks(plan(baseline));
    const nb = notebook(code('a', '1\n'), code('b', '2.5\n'), code('c', '3\n'));
    expect(checks.cell(nb, 1)?.status).toBe('differs');
    expect(checks.run(nb, {})).toMatchObject({
      cell: 1,
      failures: [expect.stringMatching(/^cell 1:/)],
    });
    // A later display update put the right value in place.
    nb.cells[1] = code('b', '2\n');
    const verdict = checks.run(nb, {});
    expect(verdict.failures).toEqual([]);
    expect(verdict.record).toMatchObject({
      passed: true,
      baseline: 'build 41',
      cells: { same: 3 },
    });
  });

  it('says the stored outputs in words, and notes nothing without a baseline', () => {
    const stored = runChecks({ ...plan(baseline), baselineLabel: 'stored' });
    expect(stored.cell(notebook(code('a', '1\n')), 0)?.against).toBe(
      'the outputs stored in the notebook',
    );
    const none = runChecks({ ...plan(baseline), baseline: null, comparer: null });
    expect(none.cell(notebook(code('a', '1\n')), 0)).toBeNull();
    expect(none.run(notebook(code('a', '1\n')), {}).record).toMatchObject({ passed: true });
  });
});
