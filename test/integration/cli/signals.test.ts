/**
 * Embedded mode (the CLI supervises its own Jupyter server) and cancellation: SIGTERM during a
 * long cell ends the run with exit 130 within Jenkins' 5 s, with the partial notebook written.
 */
import type { Notebook } from '../../../pipelines/notebook/model';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  writeNotebook,
} from '../../helpers/notebooks';

describe('nbstage run, embedded', () => {
  afterAll(cleanupDirs);

  it('starts and stops its own Jupyter server', async () => {
    const file = writeNotebook(makeNotebook(['print("embedded ok")']));
    const res = await runCli(['run', '--no-progress', file], { env: { NBSTAGE_JUPYTER_URL: '' } });
    expect(res.stderr).toContain('executed notebook written');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('embedded ok');
  });

  it('exits 130 within 5 s of SIGTERM during a long cell, keeping the partial notebook', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print("step one", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(120)',
        'print("never")',
      ]),
    );
    let signalledAt = 0;
    const res = await runCli(['run', '--no-progress', file], {
      env: { NBSTAGE_JUPYTER_URL: '' },
      onStdout: (_chunk, child) => {
        if (signalledAt === 0 && /sleeping/.test(_chunk)) {
          signalledAt = Date.now();
          child.kill('SIGTERM');
        }
      },
    });
    const elapsed = Date.now() - signalledAt;
    expect(signalledAt).toBeGreaterThan(0);
    expect(res.code).toBe(130);
    expect(elapsed).toBeLessThan(5000);
    const out = readJson<Notebook>(file.replace('.ipynb', '.executed.ipynb'));
    expect(cellText(out, 0)).toBe('step one\n');
    expect(cellText(out, 1)).toContain('sleeping');
    expect(out.metadata.nbstage).toMatchObject({
      status: 'cancelled',
      exception: { cell_index: 1 },
    });
    expect(out.cells[1].metadata.nbstage).toMatchObject({ status: 'cancelled' });
  });
});
