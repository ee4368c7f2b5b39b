/**
 * `nbstage history`, `show` and `diff` on a real store, through the built CLI (exit codes,
 * one-line reasons, files written, environment differences) and in-process (colour only on a
 * terminal).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { serializeNotebook } from '../../../pipelines/notebook/io';
import type { JSONObject } from '../../../pipelines/notebook/model';
import { diffCommand } from '../../../cli/history-commands';
import { openVersionStore } from '../../../server/store/git-version-store';
import { cleanupDirs, runCli, tempDir } from '../../helpers/notebooks';
import { realisticNotebook, runRecord } from './fixtures';

const JOB = 'team/ml/My Train';

/** A home with builds 1 and 2 of {@link JOB}: build 2 has another learning rate and fails. */
async function seededHome(): Promise<string> {
  const home = tempDir();
  const store = await openVersionStore(home);
  await store.commitRun({
    job: JOB,
    build: '1',
    runId: 'r1',
    notebook: realisticNotebook({ accuracy: 0.9 }),
    run: runRecord({ accuracy: 0.9 }),
  });
  await store.commitRun({
    job: JOB,
    build: '2',
    runId: 'r2',
    stage: 'train',
    notebook: realisticNotebook({ accuracy: 0.95, learningRate: 0.02, status: 'failed' }),
    run: { ...runRecord({ accuracy: 0.95, learningRate: 0.02, status: 'failed' }), duration: 75 },
  });
  await store.close();
  return home;
}

/** A reproducibility record as a Python kernel leaves it (packages trimmed). */
function environment(python: string, packages: JSONObject): JSONObject {
  return {
    host: 'agent-1',
    language: 'python',
    language_version: python,
    python: { version: python, implementation: 'CPython' },
    packages,
    git: { commit: '1ac1', dirty: false, untracked: 0, branch: 'main' },
  };
}

/**
 * A home with builds 1 to 3 of {@link JOB}: 1 and 2 recorded different environments (1 in its
 * notebook only, 2 in run.json too, as the service copies it), 3 recorded none.
 */
async function environmentHome(): Promise<string> {
  const home = tempDir();
  const store = await openVersionStore(home);
  const versions: [string, JSONObject | null, JSONObject | null][] = [
    ['1', environment('3.11.7', { numpy: '1.26.4', six: '1.16.0' }), null],
    ['2', null, environment('3.12.1', { numpy: '2.0.0', pandas: '2.2.0', six: '1.16.0' })],
    ['3', null, null],
  ];
  for (const [build, inNotebook, inRun] of versions) {
    const notebook = realisticNotebook();
    const { environment: _recorded, ...run } = runRecord();
    notebook.metadata.nbstage = {
      ...(notebook.metadata.nbstage ?? {}),
      environment: inNotebook ?? inRun ?? { host: 'agent-1' },
    };
    await store.commitRun({
      job: JOB,
      build,
      runId: `r${build}`,
      notebook,
      run: inRun === null ? run : { ...run, environment: inRun },
    });
  }
  await store.close();
  return home;
}

/** A writable that keeps what is written, claiming to be a terminal or not. */
function capture(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => Buffer.concat(chunks).toString('utf8');
  return stream;
}

describe('nbstage history, show and diff', () => {
  let home: string;
  beforeAll(async () => {
    home = await seededHome();
  });
  afterAll(cleanupDirs);

  it('prints the builds of a job, newest first, with key metrics', async () => {
    const res = await runCli(['history', JOB, '--home', home]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BUILD\s+STATUS\s+STARTED\s+DURATION\s+STAGES\s+ACCURACY$/);
    expect(lines[1]).toMatch(/^2\s+failed\s+2026-01-01 10:00:00Z\s+1 min 15 s\s+train\s+0\.95$/);
    expect(lines[2]).toMatch(/^1\s+completed\s+2026-01-01 10:00:00Z\s+5\.00 s\s+0\.9$/);
    const json = await runCli(['history', JOB, '--json'], { env: { NBSTAGE_HOME: home } });
    const parsed = JSON.parse(json.stdout) as { builds: { build: string }[] };
    expect(parsed.builds.map((b) => b.build)).toEqual(['2', '1']);
  });

  it('shows a build, writes its notebook with -o, and prints it with -o -', async () => {
    const res = await runCli(['show', JOB, '2', '--home', home]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^status +failed$/m);
    expect(res.stdout).toMatch(/^metrics +accuracy=0\.95$/m);
    const out = path.join(tempDir(), 'nb.ipynb');
    const written = await runCli(['show', JOB, '1', '--home', home, '-o', out, '--json']);
    expect(written.code).toBe(0);
    expect(JSON.parse(written.stdout)).toMatchObject({ build: '1', output: out });
    expect(fs.readFileSync(out, 'utf8')).toBe(
      serializeNotebook(realisticNotebook({ accuracy: 0.9 })),
    );
    const piped = await runCli(['show', JOB, '1', '--home', home, '-o', '-']);
    expect(piped.stdout).toBe(fs.readFileSync(out, 'utf8'));
  });

  it('diffs two builds for people and as JSON', async () => {
    const res = await runCli(['diff', JOB, '1', '2', '--home', home]);
    expect(res.code).toBe(0);
    expect(res.stdout).not.toContain('\u001b[');
    expect(res.stdout).toContain('status: completed -> failed');
    expect(res.stdout).toContain('  accuracy: 0.9 -> 0.95');
    expect(res.stdout).toContain('  learning_rate: 0.01 -> 0.02');
    expect(res.stdout).toContain('    - model = train(train, epochs=epochs, lr=0.01)');
    expect(res.stdout).toContain('    + model = train(train, epochs=epochs, lr=0.02)');
    expect(res.stdout).toContain('    - accuracy: 0.9000');
    const json = JSON.parse(
      (await runCli(['diff', JOB, '1', '2', '--home', home, '--json'])).stdout,
    );
    expect(json.status).toEqual({ a: 'completed', b: 'failed', changed: true });
    const same = await runCli(['diff', JOB, '1', '1', '--home', home]);
    expect(same.stdout).toContain('no differences');
  });

  it('colours the diff on a terminal only', async () => {
    const tty = capture(true);
    await diffCommand(JOB, '1', '2', { home }, { stdout: tty, env: {} });
    expect(tty.text()).toContain('\u001b[31m');
    const noColor = capture(true);
    await diffCommand(JOB, '1', '2', { home }, { stdout: noColor, env: { NO_COLOR: '1' } });
    expect(noColor.text()).not.toContain('\u001b[');
    const pipe = capture(false);
    await diffCommand(JOB, '1', '2', { home }, { stdout: pipe, env: {} });
    expect(pipe.text()).not.toContain('\u001b[');
  });

  it('lists the environment differences, and which build recorded none', async () => {
    const envHome = await environmentHome();
    const res = await runCli(['diff', JOB, '1', '2', '--home', envHome]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      [
        'environment:',
        '  packages: 1 added, 1 changed',
        '  + pandas 2.2.0',
        '  ~ numpy 1.26.4 → 2.0.0',
        '  python.version: 3.11.7 → 3.12.1',
      ].join('\n'),
    );
    expect(res.stdout).not.toContain('no differences');
    const json = JSON.parse(
      (await runCli(['diff', JOB, '1', '2', '--home', envHome, '--json'])).stdout,
    );
    expect(json.environment).toEqual({
      packages: {
        added: [{ name: 'pandas', from: null, to: '2.2.0' }],
        removed: [],
        changed: [{ name: 'numpy', from: '1.26.4', to: '2.0.0' }],
      },
      changes: [{ field: 'python.version', from: '3.11.7', to: '3.12.1' }],
      recorded: { a: true, b: true },
    });
    const missing = await runCli(['diff', JOB, '2', '3', '--home', envHome]);
    expect(missing.stdout).toMatch(/^environment: not recorded in build 3$/m);
    expect(missing.stdout).not.toContain('packages:');
    const same = await runCli(['diff', JOB, '2', '2', '--home', envHome]);
    expect(same.stdout).not.toContain('environment');
    expect(same.stdout).toContain('no differences');
    const tty = capture(true);
    await diffCommand(JOB, '1', '2', { home: envHome }, { stdout: tty, env: {} });
    expect(tty.text()).toContain('\u001b[32m  + pandas 2.2.0\u001b[0m');
  });

  it('exits 2 with one line for an unknown home, job or build, creating nothing', async () => {
    const empty = tempDir();
    const cases: [string[], RegExp][] = [
      [['history', JOB, '--home', empty], /^nbstage: no version store at .*history\.git$/],
      [['history', 'nope', '--home', home], /^nbstage: no versions of job "nope"$/],
      [['show', JOB, '9', '--home', home], /^nbstage: job "team\/ml\/My Train" has no build "9"$/],
      [['diff', JOB, '1', '9', '--home', home], /has no build "9"/],
    ];
    for (const [args, reason] of cases) {
      const res = await runCli(args);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      const lines = res.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(reason);
    }
    expect(fs.readdirSync(empty)).toEqual([]);
  });
});
