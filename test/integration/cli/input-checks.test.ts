/**
 * `nbstage run` (embedded, from dist/) on input it used to mishandle: a notebook file nested
 * too deeply exits 2 naming where; duplicate cell ids get new ones with a warning; `--artifacts
 * DIR` is created for the notebook.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cleanupDirs, makeNotebook, runCli, tempDir, writeNotebook } from '../../helpers/notebooks';

describe('nbstage run input checks', () => {
  afterAll(cleanupDirs);
  const jupyterEnv = (): NodeJS.ProcessEnv => ({
    NBSTAGE_JUPYTER_URL: '',
  });

  it('exits 2 for a notebook nested deeper than the limit, naming the path', async () => {
    const text = JSON.stringify({ ...makeNotebook(['1']), metadata: { deep: 0 } }).replace(
      '"deep":0',
      `"deep":${'['.repeat(5000)}${']'.repeat(5000)}`,
    );
    const res = await runCli(['run', '--no-progress', writeNotebook(text, 'deep.ipynb')], {
      env: jupyterEnv(),
    });
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toMatch(
      /^nbstage: .*deep\.ipynb: \/metadata\/deep\/0\/0\/0\/0\/…: nested deeper than 64 levels/,
    );
  });

  it('runs a notebook with duplicate cell ids, warning and writing unique ones', async () => {
    const nb = makeNotebook(['1', '2']);
    nb.cells[1].id = 'c0';
    const file = writeNotebook(nb, 'dup.ipynb');
    const out = path.join(path.dirname(file), 'dup.out.ipynb');
    const res = await runCli(['run', '--no-progress', file, '-o', out], { env: jupyterEnv() });
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/warning: .*\/cells\/1\/id 'c0' is not unique: generated a new id/);
    const ids = (JSON.parse(fs.readFileSync(out, 'utf8')) as { cells: { id: string }[] }).cells.map(
      (c) => c.id,
    );
    expect(ids[0]).toBe('c0');
    expect(new Set(ids).size).toBe(2);
  });

  it('creates --artifacts DIR before the first cell', async () => {
    const dir = path.join(tempDir(), 'out', 'artifacts');
    const nb = makeNotebook([
      'import os\nopen(os.path.join(os.environ["NBSTAGE_ARTIFACTS"], "a.txt"), "w").write("x")',
    ]);
    const res = await runCli(['run', '--no-progress', writeNotebook(nb), '--artifacts', dir], {
      env: jupyterEnv(),
    });
    expect([res.code, res.stderr]).toEqual([0, expect.any(String)]);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('x');
  });
});
