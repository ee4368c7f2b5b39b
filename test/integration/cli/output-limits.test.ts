/**
 * Output limits end to end: the real CLI on a real kernel that floods its output. The executed
 * notebook, JUnit and HTML report stay bounded and say where output was cut, by which limit and
 * how to raise it; the whole output of each cut cell is kept (masked) as an artifact.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Notebook } from '../../../pipelines/notebook/model';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  writeNotebook,
} from '../../helpers/notebooks';

const SECRET = 's3cr3t-flood-value';
const KIB = 1024;

describe('nbstage run: output limits', () => {
  afterAll(cleanupDirs);

  it('keeps a flooding run bounded, marks the cuts and keeps the full output as artifacts', async () => {
    const file = writeNotebook(
      makeNotebook([
        // About 1 MB, the secret on every line.
        'import os\nfor i in range(10000):\n    print(i, os.environ["TOKEN"], "y" * 70)',
        // As fast as it can, until the run's timeout.
        'import sys\nblock = ("z" * 99 + "\\n") * 100\nwhile True:\n    sys.stdout.write(block)\n    sys.stdout.flush()',
      ]),
    );
    const dir = path.dirname(file);
    const artifacts = path.join(dir, 'artifacts');
    const res = await runCli(
      [
        'run',
        '--no-progress',
        file,
        '--timeout',
        '8',
        '--max-cell-output',
        '256KiB',
        '--max-run-output',
        '2MiB',
        '--secret',
        `TOKEN=${SECRET}`,
        '--junit',
        path.join(dir, 'junit.xml'),
        '--html',
        path.join(dir, 'report.html'),
        '--artifacts',
        artifacts,
      ],
      {
        env: {
          NBSTAGE_JUPYTER_URL: '',
        },
      },
    );
    expect(res.code).toBe(3); // the timeout ended it

    // The console went on past the cell's limit, and stopped at the run's.
    expect(res.stdout).toContain('9999 **** ');
    expect(res.stdout.length).toBeGreaterThan(1_000_000);
    expect(res.stdout.length).toBeLessThan(2 * 1024 * KIB + 64 * KIB);
    expect(res.stderr).toContain('the per-run output limit');

    const executedFile = file.replace(/\.ipynb$/, '.executed.ipynb');
    const nb: Notebook = readJson(executedFile);
    const first = cellText(nb, 0);
    expect(first).toContain('0 **** ');
    expect(first).not.toContain('9999 **** ');
    expect(first).toContain('cell 0 wrote more than 256 KiB, the per-cell output limit');
    expect(first).toContain('--max-cell-output SIZE');
    expect(first).toContain('nbstage-output/cell-0.txt.gz');
    const second = cellText(nb, 1);
    expect(second).toContain('the run wrote more than 2 MiB, the per-run output limit');
    expect(second).toContain('--max-run-output SIZE');
    expect(nb.cells[0].metadata.nbstage?.output).toMatchObject({
      truncated: 'cell',
      full_output: 'nbstage-output/cell-0.txt.gz',
    });

    // Bounded: the kept output is within the run's limit, whatever the kernel printed.
    for (const name of [executedFile, path.join(dir, 'junit.xml'), path.join(dir, 'report.html')]) {
      const size = fs.statSync(name).size;
      expect(size).toBeLessThan(3 * 1024 * KIB);
      const text = fs.readFileSync(name, 'utf8');
      expect(text).toContain('the per-cell output limit');
      expect(text).not.toContain(SECRET);
    }

    // The whole output of both cells, masked.
    const full0 = zlib
      .gunzipSync(fs.readFileSync(path.join(artifacts, 'nbstage-output', 'cell-0.txt.gz')))
      .toString('utf8');
    const lines = full0.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(10000);
    expect(lines[9999]).toBe(`9999 **** ${'y'.repeat(70)}`);
    expect(full0).not.toContain(SECRET);
    const full1 = zlib
      .gunzipSync(fs.readFileSync(path.join(artifacts, 'nbstage-output', 'cell-1.txt.gz')))
      .toString('utf8');
    expect(full1.length).toBeGreaterThan(second.length);
    expect(full1.startsWith('z'.repeat(99))).toBe(true);
  }, 60_000);
});
