/**
 * nbclient's own test notebooks (tests/files of the nbclient release pinned in
 * kernels/requirements-dev.txt, fetched by scripts/nbclient-notebooks.sh) run under nbclient and
 * under `nbstage run` on real kernels. Wherever nbclient reproduces a cell's stored outputs and
 * execution count (after nbclient's own normalizations), nbstage must too; nbstage never refuses
 * one of them and always writes a valid executed notebook. Notebooks nbclient itself cannot
 * reproduce here (a missing package, an environment only its test harness sets) are reported as
 * such in test-output/nbclient-notebooks.md, not counted as passing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LocalJupyterServer } from '../../../kernels/jupyter-server';
import { resolvePython } from '../../../kernels/python-env';
import { fetchedFolder } from '../../helpers/fetched';
import { cleanupDirs, runCli, tempDir } from '../../helpers/notebooks';

const ROOT = path.resolve(__dirname, '../../..');

/** nbclient's options per notebook, as its tests/test_client.py runs them. */
const NBCLIENT_OPTIONS: Record<string, { allow_errors?: boolean; timeout?: number }> = {
  'Interrupt.ipynb': { timeout: 3, allow_errors: true },
  'Skip Exceptions.ipynb': { allow_errors: true },
  'Disable Stdin.ipynb': { allow_errors: true },
};
/** nbclient goes on after a cell timeout with interrupt_on_timeout. */
const INTERRUPT_ON_TIMEOUT = new Set(['Interrupt.ipynb']);

/**
 * Cells where nbstage differs from nbclient on purpose, with the reason: a cell timeout ends an
 * nbstage run (exit 3, the README's exit codes), so the cells after it do not run.
 */
const BY_DESIGN: Record<string, { fromCell: number; reason: string }> = {
  'Interrupt.ipynb': {
    fromCell: 1,
    reason:
      'a cell timeout ends an nbstage run (exit 3); nbclient with interrupt_on_timeout goes on',
  },
};

interface Side {
  cells: Record<string, boolean | null>;
}
/** Both sides of a cell that differs, normalized. */
interface Diff {
  stored: unknown[];
  executed: unknown[];
}
interface Report {
  [name: string]: {
    nbclient: Side & { raised: string | null };
    nbstage: (Side & { diffs: Record<string, Diff>; invalid: string | null }) | null;
  };
}

function notebooksDir(): string {
  return fetchedFolder('nbclient-notebooks.sh', "nbclient's test notebooks");
}

function flagsFor(name: string): string[] {
  const options = NBCLIENT_OPTIONS[name] ?? {};
  return [
    ...(options.allow_errors === true ? ['--allow-errors'] : []),
    ...(options.timeout === undefined ? [] : ['--cell-timeout', String(options.timeout)]),
  ];
}

describe("nbclient's test notebooks under nbstage", () => {
  let server: LocalJupyterServer | null = null;
  afterAll(async () => {
    await server?.close();
    cleanupDirs();
  });

  it('reproduce their stored outputs wherever nbclient does', async () => {
    const files = notebooksDir();
    const names = fs
      .readdirSync(files)
      .filter((f) => f.endsWith('.ipynb'))
      .sort();
    expect(names.length).toBeGreaterThanOrEqual(12);
    // The kernels get what nbclient's tests give theirs (conftest.py, run_notebook): one cell
    // name for every cell, which is what the stored tracebacks show, and an 80-column terminal.
    server = await LocalJupyterServer.start({
      env: { IPYKERNEL_CELL_NAME: '<IPY-INPUT>', COLUMNS: '80', LINES: '24' },
    });
    const out = tempDir();
    const exits: Record<string, { code: number | null; warnings: string[] }> = {};
    for (const name of names) {
      const res = await runCli(
        [
          'run',
          path.join(files, name),
          '-o',
          path.join(out, name),
          '--no-progress',
          ...flagsFor(name),
        ],
        {
          env: {
            NBSTAGE_JUPYTER_URL: server.endpoint.baseUrl,
            NBSTAGE_JUPYTER_TOKEN: server.endpoint.token,
          },
        },
      );
      exits[name] = {
        code: res.code,
        warnings: res.stderr.split('\n').filter((l) => l.startsWith('nbstage: warning: ')),
      };
    }

    const optionsFile = path.join(out, 'nbclient-options.json');
    const nbclientOptions = Object.fromEntries(
      Object.entries(NBCLIENT_OPTIONS).map(([name, o]) => [
        name,
        INTERRUPT_ON_TIMEOUT.has(name) ? { ...o, interrupt_on_timeout: true } : o,
      ]),
    );
    fs.writeFileSync(optionsFile, JSON.stringify(nbclientOptions));
    const report = JSON.parse(
      execFileSync(
        resolvePython().python,
        [path.join(ROOT, 'test/python/nbclient_compat.py'), files, out, optionsFile],
        { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 600000 },
      ),
    ) as Report;

    const rows: string[] = [
      '| notebook | nbstage exit | nbclient reproduces | nbstage reproduces | note |',
      '| --- | --- | --- | --- | --- |',
    ];
    const problems: string[] = [];
    for (const name of names) {
      const entry = report[name];
      const ours = entry.nbstage;
      const cells = Object.keys(entry.nbclient.cells);
      const theirs = cells.filter((c) => entry.nbclient.cells[c] === true);
      const design = BY_DESIGN[name];
      const expected = theirs.filter((c) => design === undefined || Number(c) < design.fromCell);
      const matched = cells.filter((c) => ours?.cells[c] === true);
      for (const c of expected) {
        if (ours?.cells[c] !== true) {
          const diff = JSON.stringify(ours?.diffs[c] ?? null).slice(0, 4000);
          problems.push(`${name}: cell ${c} reproduced by nbclient, not by nbstage: ${diff}`);
        }
      }
      if (exits[name].code === 2) {
        problems.push(`${name}: refused by nbstage (exit 2)`);
      }
      if (ours === null) {
        problems.push(`${name}: nbstage wrote no executed notebook`);
      } else if (ours.invalid !== null) {
        problems.push(`${name}: nbstage's executed notebook is invalid: ${ours.invalid}`);
      }
      const notes = [
        theirs.length === 0
          ? `nbclient cannot reproduce it here${entry.nbclient.raised === null ? '' : ` (${entry.nbclient.raised})`}`
          : entry.nbclient.raised === null
            ? ''
            : `nbclient raised ${entry.nbclient.raised}`,
        design === undefined
          ? ''
          : `cells from ${design.fromCell} differ by design: ${design.reason}`,
        exits[name].warnings.length === 0 ? '' : `${exits[name].warnings.length} warning(s)`,
      ].filter((n) => n !== '');
      rows.push(
        `| ${name} | ${String(exits[name].code)} | ${theirs.length}/${cells.length} cells | ` +
          `${matched.length}/${cells.length} cells | ${notes.join('; ')} |`,
      );
    }
    const table = rows.join('\n') + '\n';
    fs.mkdirSync(path.join(ROOT, 'test-output'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'test-output', 'nbclient-notebooks.md'), table);
    process.stdout.write(`\n${table}`);
    expect(problems).toEqual([]);
  }, 900000);
});
