/**
 * `nbstage history`, `show` and `diff` print what runs stored, and anyone who can start a run
 * chose it: a job, stage, status, kernel, metric, parameter, cell id, artifact or source line
 * holding terminal escapes (ESC, BEL, CSI as C1) comes out with them escaped, through the built
 * CLI on a real store; the CLI's own colours are the only escapes a terminal gets.
 */
import { Writable } from 'node:stream';
import type { JSONObject } from '../../../pipelines/notebook/model';
import { diffCommand } from '../../../cli/history-commands';
import { openVersionStore } from '../../../server/store/git-version-store';
import { cleanupDirs, makeNotebook, runCli, tempDir } from '../../helpers/notebooks';

const ESC = '\u001b';
/** Clears the screen, retitles the window, then a C1 CSI: what the red team's names held. */
const HOSTILE = `${ESC}[2J${ESC}]0;pwned\u0007\u009b31m`;
const JOB = `team/evil${HOSTILE} job`;

/** Any C0 control but a line break, DEL, or C1 control. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
/** An SGR sequence (a colour), the one kind of escape the CLI writes itself. */
const SGR = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');

function run(build: string): JSONObject {
  return {
    status: `completed${HOSTILE}`,
    start: '2026-01-01T10:00:00.000Z',
    duration: 5,
    kernel: `python3${HOSTILE}`,
    stage: `train${HOSTILE}`,
    run_id: `r${build}`,
    parameters: { [`lr${HOSTILE}`]: `0.${build}${HOSTILE}` },
    metrics: { [`acc${HOSTILE}`]: Number(`0.${build}`) },
    exception: { ename: `Err${HOSTILE}`, evalue: `bad${HOSTILE}`, cell_index: 0 },
    artifacts: [{ name: `plot${HOSTILE}.png`, size: 3, sha256: 'a'.repeat(64) }],
  };
}

describe('stored names on the terminal', () => {
  let home: string;

  beforeAll(async () => {
    home = tempDir();
    const store = await openVersionStore(home);
    for (const build of ['1', '2']) {
      await store.commitRun({
        job: JOB,
        build,
        runId: `r${build}`,
        stage: `train${HOSTILE}`,
        notebook: makeNotebook([{ source: `print("v${build}${HOSTILE}")\tx = ${build}` }]),
        run: run(build),
      });
    }
    await store.close();
  });
  afterAll(cleanupDirs);

  it('shows every stored name of a build with its control characters escaped', async () => {
    const res = await runCli(['show', JOB, '1', '--home', home]);
    expect(res.code).toBe(0);
    expect(res.stdout).not.toMatch(CONTROL);
    const shown = '\\x1b[2J\\x1b]0;pwned\\x07\\u009b31m';
    expect(res.stdout).toContain(`job         team/evil${shown} job`);
    for (const line of [`status      completed${shown}`, `kernel      python3${shown}`]) {
      expect(res.stdout).toContain(line);
    }
    expect(res.stdout).toContain(`metrics     acc${shown}=0.1`);
    expect(res.stdout).toContain(`parameters  lr${shown}=0.1${shown}`);
    expect(res.stdout).toContain(`exception   Err${shown}: bad${shown} (cell 0)`);
    expect(res.stdout).toContain(`artifact    plot${shown}.png`);
  });

  it('lists the builds and diffs them with nothing raw but line breaks', async () => {
    const history = await runCli(['history', JOB, '--home', home]);
    expect(history.code).toBe(0);
    expect(history.stdout).not.toMatch(CONTROL);
    expect(history.stdout).toContain('\\x1b[2J');
    const diff = await runCli(['diff', JOB, '1', '2', '--home', home]);
    expect(diff.code).toBe(0);
    // Tabs of a diffed source line are kept: they are layout, not escapes.
    expect(diff.stdout.replace(/\t/g, ' ')).not.toMatch(CONTROL);
    expect(diff.stdout).toContain('\tx = 2');
    expect(diff.stdout).toContain(`team/evil\\x1b[2J`);
  });

  it('keeps its own colours on a terminal, and only those', async () => {
    const chunks: Buffer[] = [];
    const tty = Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk);
          done();
        },
      }),
      { isTTY: true },
    );
    await diffCommand(JOB, '1', '2', { home }, { stdout: tty, env: {} });
    const text = Buffer.concat(chunks).toString('utf8');
    const escapes = [...text.matchAll(SGR)].map((m) => m[0]);
    expect(new Set(escapes)).toEqual(
      new Set(['\u001b[1m', '\u001b[0m', '\u001b[31m', '\u001b[32m']),
    );
    expect(text.replace(SGR, '').replace(/\t/g, ' ')).not.toMatch(CONTROL);
  });
});
