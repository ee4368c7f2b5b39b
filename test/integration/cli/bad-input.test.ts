/**
 * Bad input exits 2 with a one-line reason on stderr and writes nothing misleading: no executed
 * notebook appears for a run that never started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cleanupDirs, makeNotebook, runCli, writeNotebook } from '../../helpers/notebooks';

describe('nbstage run with bad input', () => {
  afterAll(cleanupDirs);

  const expectExit2 = async (args: string[], reason: RegExp): Promise<void> => {
    const res = await runCli(['run', '--no-progress', ...args], {
      env: {
        NBSTAGE_JUPYTER_URL: '',
      },
    });
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(reason);
    expect(res.stdout).toBe('');
    const input = args[0];
    const dir = path.dirname(input);
    if (fs.existsSync(dir)) {
      expect(fs.readdirSync(dir).filter((f) => f.includes('executed'))).toEqual([]);
    }
  };

  it('rejects a file that is not JSON', async () => {
    await expectExit2(
      [writeNotebook('{"cells": [', 'broken.ipynb')],
      /^nbstage: .*broken\.ipynb.*JSON/,
    );
  });

  it('rejects a notebook that fails the nbformat schema, naming the field', async () => {
    const nb = makeNotebook(['1']) as unknown as { cells: { cell_type: string }[] };
    nb.cells[0].cell_type = 'kode';
    await expectExit2(
      [writeNotebook(JSON.stringify(nb), 'schema.ipynb')],
      /schema\.ipynb.*\/cells\/0/,
    );
  });

  it('rejects a missing file', async () => {
    await expectExit2(
      [path.join(path.dirname(writeNotebook('{}')), 'missing.ipynb')],
      /missing\.ipynb/,
    );
  });

  it('rejects an unknown kernel, listing the available ones', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    await expectExit2([file, '-k', 'cobol'], /unknown kernel "cobol" \(available: .*python3/);
  });

  it('rejects an unknown stage, listing the stages', async () => {
    const file = writeNotebook(makeNotebook([{ source: '1', tags: ['stage:train'] }]));
    await expectExit2([file, '--stage', 'deploy'], /unknown stage "deploy".*train/);
  });

  it('rejects -p without =', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    await expectExit2([file, '-p', 'epochs'], /-p "epochs": expected NAME=VALUE/);
  });

  it('rejects an unknown option', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    await expectExit2([file, '--frobnicate'], /unknown option '--frobnicate'/);
  });

  it('rejects a non-numeric timeout', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    await expectExit2([file, '--cell-timeout', 'soon'], /--cell-timeout must be a positive number/);
  });
});
