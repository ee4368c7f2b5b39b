/**
 * A Zeppelin note that mixes %python, %sh and %md runs with one kernel per interpreter; the
 * executed note is written back in Zeppelin's format; `z.input` reads the run's parameters.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Notebook } from '../../../pipelines/notebook/model';
import { cellText, cleanupDirs, readJson, runCli, tempDir } from '../../helpers/notebooks';

interface Paragraph {
  text: string;
  status: string;
  results?: { code: string; msg: { type: string; data: string }[] };
  dateStarted?: string;
  dateFinished?: string;
}

describe('nbstage run on a Zeppelin note', () => {
  afterAll(cleanupDirs);

  it('runs %python, %sh and %md paragraphs and writes the note back', async () => {
    const dir = tempDir();
    const note = {
      name: 'mixed',
      id: '2JX1ABC',
      paragraphs: [
        { id: 'p1', text: '%md\n# Mixed note', config: {}, settings: {}, status: 'READY' },
        {
          id: 'p2',
          text: '%python\nrows = int(z.input("rows", "2"))\nprint("python rows", rows)',
          config: {},
          settings: {},
          status: 'READY',
        },
        {
          id: 'p3',
          text: '%sh\necho "shell says $((6*7))"',
          config: {},
          settings: {},
          status: 'READY',
        },
        {
          id: 'p4',
          text: '%python\nz.show([{"name": "a", "n": 1}, {"name": "b", "n": rows}])',
          config: {},
          settings: {},
          status: 'READY',
        },
        {
          id: 'p5',
          text: '%sh\nls /nonexistent-nbstage-dir',
          config: {},
          settings: {},
          status: 'READY',
        },
      ],
      config: {},
    };
    const file = path.join(dir, 'mixed.zpln');
    fs.writeFileSync(file, JSON.stringify(note));
    const zout = path.join(dir, 'mixed.out.zpln');
    const res = await runCli(
      ['run', '--no-progress', file, '--zeppelin-out', zout, '-p', 'rows=3'],
      {
        env: {
          NBSTAGE_JUPYTER_URL: '',
        },
      },
    );
    expect(res.code).toBe(1);
    const executed = readJson<Notebook>(path.join(dir, 'mixed.executed.ipynb'));
    expect(cellText(executed, 1)).toBe('python rows 3\n');
    expect(cellText(executed, 2)).toBe('shell says 42\n');
    const out = readJson<{ paragraphs: Paragraph[] }>(zout);
    const [md, py, sh, table, failing] = out.paragraphs;
    expect(md.status).toBe('FINISHED');
    expect(md.results?.msg[0].type).toBe('HTML');
    expect(py.status).toBe('FINISHED');
    expect(py.results).toEqual({
      code: 'SUCCESS',
      msg: [{ type: 'TEXT', data: 'python rows 3\n' }],
    });
    expect(sh.results?.msg[0].data).toBe('shell says 42\n');
    expect(table.results?.msg.find((m) => m.type === 'TABLE')?.data).toBe('name\tn\na\t1\nb\t3\n');
    expect(failing.status).toBe('ERROR');
    expect(failing.results?.code).toBe('ERROR');
    expect(py.dateStarted).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);
  });
});
