/**
 * `nbstage run --baseline/--rtol/--gate` end to end on a real ipykernel: two runs of noisy
 * output compare equal, a changed number is exit 6 with a JUnit output-mismatch naming it, the
 * tolerance decides, gates pass and fail (type="gate"), a malformed gate is exit 2 before any
 * kernel starts, a cell error still wins (exit 1), and nbval's markers mean what they do there.
 * Checks through the service are in service-checks.test.ts.
 */
import fs from 'node:fs';
import type { CodeCell, JSONObject, Notebook } from '../../../pipelines/notebook/model';
import {
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  writeNotebook,
  type CliResult,
} from '../../helpers/notebooks';

const run = (args: string[]): Promise<CliResult> =>
  runCli(['run', '--no-progress', ...args], { env: { NBSTAGE_JUPYTER_URL: '' } });

const executedPath = (input: string): string => input.replace(/\.ipynb$/, '.executed.ipynb');
const executed = (input: string): Notebook => readJson(executedPath(input));
const checksOf = (nb: Notebook): JSONObject => nb.metadata.nbstage?.checks as JSONObject;

/** A notebook whose code cells have these stored outputs (as if run before), each executed. */
function withStored(sources: string[], stored: string[]): Notebook {
  const nb = makeNotebook(sources);
  nb.cells.forEach((cell, i) => {
    const code = cell as CodeCell;
    code.execution_count = i + 1;
    code.outputs = [
      {
        output_type: 'execute_result',
        execution_count: i + 1,
        data: { 'text/plain': stored[i] },
        metadata: {},
      },
    ];
  });
  return nb;
}

describe('nbstage run with checks', () => {
  afterAll(cleanupDirs);

  it('finds two runs of noisy output the same: addresses, times, uuids, temp paths, progress', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print(object())',
        'import datetime, uuid, tempfile, time\n' +
          'print(datetime.datetime.now())\nprint(uuid.uuid4())\nprint(tempfile.mkdtemp())',
        'import sys\nfor i in range(0, 101, 25):\n    sys.stdout.write(f"\\rprogress {i}%")\n' +
          'print()\nt = time.time()\ntime.sleep(0.01)\nprint(f"took {time.time() - t:.4f}s")',
      ]),
    );
    const first = await run([file]);
    expect(first.code).toBe(0);
    const baseline = executedPath(file).replace(/\.executed\.ipynb$/, '.baseline.ipynb');
    fs.renameSync(executedPath(file), baseline);
    const second = await run([file, '--baseline', baseline]);
    expect([second.code, second.stderr]).toEqual([0, expect.stringContaining('checks passed')]);
    expect(checksOf(executed(file))).toMatchObject({
      passed: true,
      cells: { same: 3, differs: 0 },
    });
  });

  it('fails the checks when a number changed: exit 6, the JUnit failure and the diff name it', async () => {
    const file = writeNotebook(withStored(['6 * 7', '0.1 + 0.2'], ['41', '0.30000000000000004']));
    const junit = file.replace(/\.ipynb$/, '.xml');
    const html = file.replace(/\.ipynb$/, '.html');
    const res = await run([file, '--baseline', 'stored', '--junit', junit, '--html', html]);
    expect(res.code).toBe(6);
    // The report: the verdict in the header, the cell's chip and its diff beside it.
    const report = fs.readFileSync(html, 'utf8');
    expect(report).toContain('<h2>Checks: failed</h2>');
    expect(report).toContain('1 differ');
    expect(report).toMatch(/id="cell-0">[\s\S]*differs from the baseline[\s\S]*-41[\s\S]*\+42/);
    expect(report).toMatch(/id="cell-1">[\s\S]*as the baseline/);
    expect(res.stderr).toContain('✗ cell 0: outputs differ from the baseline');
    expect(res.stderr).toContain('checks failed (baseline stored)');
    // The console says it right after each cell's footer, before the next cell starts.
    const lines = res.stdout.split('\n');
    const differs = lines.findIndex((l) => l.includes('≠ outputs differ'));
    expect(lines[differs]).toBe(
      '   ≠ outputs differ from the outputs stored in the notebook: ' +
        'output 1 (text/plain): 41 became 42 (rtol 1e-06)',
    );
    expect(lines[differs - 1]).toMatch(/✓/);
    expect(lines[differs + 1]).toMatch(/^── \[2\/2\] cell 1/);
    const same = lines.indexOf('   = outputs match the outputs stored in the notebook');
    expect(same).toBeGreaterThan(differs + 1);
    expect(lines[same - 1]).toMatch(/✓/);
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<failure message="outputs differ from the baseline: [^"]*41[^"]*42/);
    expect(xml).toContain('type="output-mismatch"');
    expect(xml).toMatch(/failures="1"/);
    const out = executed(file);
    expect(out.metadata.nbstage?.status).toBe('completed');
    // The run's failing cell is the cell that differs, not the last one that ran.
    expect(out.metadata.nbstage?.exception).toMatchObject({
      cell_index: 0,
      ename: 'NBSTAGE_CHECK_FAILED',
    });
    expect(checksOf(out)).toMatchObject({ passed: false, cells: { same: 1, differs: 1 } });
    expect(out.cells[0].metadata.nbstage?.check).toMatchObject({ status: 'differs' });
  });

  it('compares numbers within --rtol', async () => {
    const file = writeNotebook(withStored(['import math\nround(math.pi, 5)'], ['3.1416']));
    expect((await run([file, '--baseline', 'stored'])).code).toBe(6);
    expect((await run([file, '--baseline', 'stored', '--rtol', '1e-4'])).code).toBe(0);
  });

  it('gates metrics: a pass, a failure (type="gate"), a baseline-less gate with a note', async () => {
    const file = writeNotebook(makeNotebook(['import nbstage\nnbstage.record("accuracy", 0.93)']));
    const junit = file.replace(/\.ipynb$/, '.xml');
    const passing = await run([
      file,
      '--gate',
      'accuracy >= 0.9',
      '--gate',
      'accuracy >= baseline',
    ]);
    expect(passing.code).toBe(0);
    expect(passing.stderr).toMatch(/✓ gate accuracy >= baseline: .*\(.*baseline/);
    const failing = await run([file, '--gate', 'accuracy >= 0.95', '--junit', junit]);
    expect(failing.code).toBe(6);
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toContain('name="gate: accuracy &gt;= 0.95"');
    expect(xml).toContain('type="gate"');
    expect(xml).toContain('value: 0.93');
    expect(checksOf(executed(file))).toMatchObject({ passed: false });
    // Only a gate failed: no cell is blamed.
    expect(executed(file).metadata.nbstage?.exception).toMatchObject({ cell_index: null });
  });

  it("refuses a cell's bad metadata.nbstage.rtol before any kernel starts (exit 2)", async () => {
    const nb = withStored(['6 * 7'], ['42']);
    nb.cells[0].metadata.nbstage = { rtol: 'loose' };
    const res = await run([writeNotebook(nb), '--baseline', 'stored']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cells/0/metadata/nbstage/rtol must be a number >= 0');
  });

  it('refuses a malformed gate before any kernel starts (exit 2, naming it)', async () => {
    const file = writeNotebook(makeNotebook(['print("never")']));
    const res = await run([file, '--gate', 'accuracy >>= 0.9']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('accuracy >>= 0.9');
    expect(res.stdout).not.toContain('never');
    expect(fs.existsSync(executedPath(file))).toBe(false);
  });

  it('refuses a notebook file as the baseline through --server (exit 2), before sending', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    const res = await runCli(
      ['run', file, '--server', 'http://127.0.0.1:9', '--baseline', 'good.ipynb'],
      { env: { NBSTAGE_TOKEN: 'x' } },
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('a notebook file is compared embedded only');
  });

  it('keeps exit 1 when a cell failed, whatever the checks', async () => {
    const file = writeNotebook(withStored(['6 * 7', 'raise ValueError("no")'], ['41', '1']));
    expect((await run([file, '--baseline', 'stored'])).code).toBe(1);
  });

  it("honours nbval's markers: NBVAL_SKIP is not run, NBVAL_RAISES_EXCEPTION may raise", async () => {
    const nb = withStored(
      [
        '# NBVAL_SKIP\nraise RuntimeError("must not run")',
        '# NBVAL_RAISES_EXCEPTION\n1 / 0',
        '# NBVAL_IGNORE_OUTPUT\nimport random\nrandom.random()',
        '2 + 2',
      ],
      ['x', 'y', '0.5', '4'],
    );
    (nb.cells[1] as CodeCell).outputs = [
      {
        output_type: 'error',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback: [],
      },
    ];
    const file = writeNotebook(nb);
    const res = await run([file, '--baseline', 'stored']);
    expect([res.code, res.stderr]).toEqual([0, expect.stringContaining('checks passed')]);
    const out = executed(file);
    expect(out.cells[0].metadata.nbstage?.status).toBe('skipped');
    expect(checksOf(out)).toMatchObject({ passed: true });
  });
});
