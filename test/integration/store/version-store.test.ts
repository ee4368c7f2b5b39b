/**
 * The version store on the real git: one commit per run on `jobs/<job>` holding the notebook
 * and run.json, a tag per build that follows its newest stage, listing, showing and diffing,
 * job names git would refuse, artifacts by content, writers in parallel, and no leaks from the
 * machine's git configuration.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NotFoundError, ValidationError } from '../../../pipelines/errors';
import { serializeNotebook } from '../../../pipelines/notebook/io';
import { createGitRunner } from '../../../server/store/git-runner';
import { openVersionStore } from '../../../server/store/git-version-store';
import type { RunVersionInput, VersionStore } from '../../../server/store/types';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';
import { git, realisticNotebook, runRecord } from './fixtures';

function version(
  job: string,
  build: string,
  options: Partial<RunVersionInput> & { accuracy?: number; status?: string } = {},
): RunVersionInput {
  const { accuracy, status, ...rest } = options;
  return {
    job,
    build,
    runId: `run-${build}-${options.stage ?? 'all'}`,
    notebook: realisticNotebook({ accuracy, status, job, build }),
    run: runRecord({ accuracy, status }),
    ...rest,
  };
}

describe('git version store', () => {
  const stores: VersionStore[] = [];
  const open = async (home: string): Promise<VersionStore> => {
    const store = await openVersionStore(home);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(cleanupDirs);

  it('commits a run on jobs/<job> with the notebook and run.json, tagged <job>/<build>', async () => {
    const home = tempDir();
    const store = await open(home);
    const input = version('team/ml/train', '1', { author: 'Alice <alice@example.com>' });
    const result = await store.commitRun(input);
    expect(result.ref).toBe('refs/heads/jobs/team/ml/train');
    expect(result.tag).toBe('team/ml/train/1');
    const gitDir = path.join(home, 'history.git');
    expect(fs.existsSync(path.join(gitDir, 'hooks'))).toBe(false);

    // Plain git, as a user would type it.
    expect(git(gitDir, ['log', '--format=%H %an <%ae> %cn|%s', 'jobs/team/ml/train'])).toBe(
      `${result.commit} Alice <alice@example.com> nbstage|team/ml/train #1: completed\n`,
    );
    expect(git(gitDir, ['rev-parse', 'team/ml/train/1']).trim()).toBe(result.commit);
    expect(git(gitDir, ['ls-tree', '--name-only', result.commit])).toBe(
      'notebook.ipynb\nrun.json\n',
    );
    expect(git(gitDir, ['show', `${result.commit}:notebook.ipynb`])).toBe(
      serializeNotebook(input.notebook),
    );
    const run = JSON.parse(git(gitDir, ['show', `${result.commit}:run.json`])) as Record<
      string,
      unknown
    >;
    expect(run).toMatchObject({
      job: 'team/ml/train',
      build: '1',
      run_id: 'run-1-all',
      stage: null,
      status: 'completed',
      metrics: { accuracy: 0.9 },
    });
    expect(git(gitDir, ['fsck', '--strict', '--no-dangling'])).toBe('');
  });

  it('adds a commit per stage and moves the build tag to the newest', async () => {
    const home = tempDir();
    const store = await open(home);
    const first = await store.commitRun(version('pipe', '7', { stage: 'prepare', accuracy: 0.5 }));
    const second = await store.commitRun(
      version('pipe', '7', { stage: 'train', accuracy: 0.8, status: 'failed' }),
    );
    const gitDir = path.join(home, 'history.git');
    expect(git(gitDir, ['rev-parse', 'pipe/7']).trim()).toBe(second.commit);
    expect(git(gitDir, ['rev-parse', `${second.commit}^`]).trim()).toBe(first.commit);
    expect(git(gitDir, ['log', '--format=%s', 'jobs/pipe'])).toBe(
      'pipe #7 train: failed\npipe #7 prepare: completed\n',
    );
    const [build] = await store.listBuilds('pipe');
    expect(build).toMatchObject({
      build: '7',
      commit: second.commit,
      tag: 'pipe/7',
      status: 'failed',
      stages: ['prepare', 'train'],
      metrics: { accuracy: 0.8 },
      duration: 10,
      runIds: ['run-7-prepare', 'run-7-train'],
      commits: [second.commit, first.commit],
    });
    expect((await store.show('pipe', '7')).run.stage).toBe('train');
  });

  it('lists builds newest first by number, shows and diffs them', async () => {
    const home = tempDir();
    const store = await open(home);
    for (const [build, accuracy] of [
      ['2', 0.7],
      ['10', 0.9],
      ['9', 0.8],
    ] as const) {
      await store.commitRun(version('team/ml/train', build, { accuracy }));
    }
    const builds = await store.listBuilds('team/ml/train');
    expect(builds.map((b) => [b.build, b.metrics.accuracy, b.status])).toEqual([
      ['10', 0.9, 'completed'],
      ['9', 0.8, 'completed'],
      ['2', 0.7, 'completed'],
    ]);
    expect(builds[0].time).toBe('2026-01-01T10:00:00.000Z');

    const shown = await store.show('team/ml/train', '9');
    expect(shown.notebook.metadata.nbstage?.build).toBe('9');
    expect(shown.commit).toBe(builds[1].commit);

    const diff = await store.diff('team/ml/train', '2', '10');
    expect(diff.metrics).toEqual([{ name: 'accuracy', a: 0.7, b: 0.9 }]);
    expect(diff.cells.map((c) => c.id)).toEqual(['c-eval', 'c-report']);
    expect(diff.cells[1].outputs[0]).toMatchObject({
      a: 'accuracy: 0.7000\n',
      b: 'accuracy: 0.9000\n',
    });
    expect(await store.listJobs()).toEqual(['team/ml/train']);
  });

  it('keeps jobs whose refs would clash apart, and lists them by their names', async () => {
    const home = tempDir();
    const store = await open(home);
    // A matrix job and its configurations; a folder created after a job of the same name;
    // names that differ only in case; names that look alike once escaped.
    const jobs = ['matrix', 'matrix/label=linux', 'x/y', 'x', 'Job', 'job', 'a b', 'a_b', 'a%20b'];
    const commits = new Map<string, string>();
    for (const job of jobs) {
      commits.set(job, (await store.commitRun(version(job, '1'))).commit);
    }
    expect(await store.listJobs()).toEqual([...jobs].sort());
    for (const job of jobs) {
      expect((await store.show(job, '1')).commit).toBe(commits.get(job));
      expect((await store.show(job, '1')).run.job).toBe(job);
    }
    const gitDir = path.join(home, 'history.git');
    const refs = git(gitDir, ['for-each-ref', '--format=%(refname)', 'refs/heads/jobs/']);
    expect(refs).toContain('refs/heads/jobs/matrix\n');
    expect(refs).toContain('refs/heads/jobs/x/y\n');
    expect(refs).toContain('refs/heads/jobs/a%20b\n');
    expect(refs).toContain('refs/heads/jobs/a_b\n');
    expect(refs).toContain('refs/heads/jobs/a%2520b\n');
    expect(refs.match(/refs\/heads\/jobs\/%\/[0-9a-f]{64}/g)).toHaveLength(3);
    // A second version of a hashed job lands on the same branch.
    await store.commitRun(version('x', '2'));
    expect((await store.listBuilds('x')).map((b) => b.build)).toEqual(['2', '1']);
    expect(git(gitDir, ['fsck', '--strict', '--no-dangling'])).toBe('');
  });

  it('stores names git refuses: spaces, unicode, dots, .lock, @{, dashes, control characters', async () => {
    const home = tempDir();
    const store = await open(home);
    const jobs = [
      'My Job',
      'données/été',
      '日本/😀',
      '..',
      'trailing.',
      '.hidden/x.lock',
      '-leading/--dash',
      'a@{1}',
      '@',
      'tab\there\u0000nul',
      'é'.repeat(120),
    ];
    for (const job of jobs) {
      await store.commitRun(version(job, '3'));
    }
    expect(await store.listJobs()).toEqual([...jobs].sort());
    const gitDir = path.join(home, 'history.git');
    for (const ref of git(gitDir, ['for-each-ref', '--format=%(refname)']).trim().split('\n')) {
      expect(() => git(gitDir, ['check-ref-format', ref])).not.toThrow();
    }
    expect(git(gitDir, ['log', '--format=%s', 'jobs/My%20Job'])).toBe('My Job #3: completed\n');
    expect(git(gitDir, ['fsck', '--strict', '--no-dangling'])).toBe('');
  });

  it('stores artifacts once by content and lists them in run.json', async () => {
    const home = tempDir();
    const src = tempDir();
    fs.writeFileSync(path.join(src, 'model.bin'), Buffer.alloc(5000, 7));
    fs.writeFileSync(path.join(src, 'copy.bin'), Buffer.alloc(5000, 7));
    fs.writeFileSync(path.join(src, 'loss.csv'), 'epoch,loss\n1,0.5\n');
    const store = await open(home);
    await store.commitRun(
      version('j', '1', {
        artifacts: [
          { name: 'model.bin', path: path.join(src, 'model.bin') },
          { name: 'plots/loss.csv', path: path.join(src, 'loss.csv') },
        ],
      }),
    );
    await store.commitRun(
      version('j', '2', { artifacts: [{ name: 'model.bin', path: path.join(src, 'copy.bin') }] }),
    );
    const run1 = (await store.show('j', '1')).run;
    const run2 = (await store.show('j', '2')).run;
    const list = run1.artifacts as { name: string; sha256: string; size: number }[];
    expect(list.map((a) => [a.name, a.size])).toEqual([
      ['model.bin', 5000],
      ['plots/loss.csv', 17],
    ]);
    expect(run2.artifacts).toEqual([list[0]]);
    const file = store.artifactPath(list[0].sha256) as string;
    expect(file).toBe(
      path.join(home, 'artifacts', 'sha256', list[0].sha256.slice(0, 2), list[0].sha256.slice(2)),
    );
    expect(fs.readFileSync(file)).toEqual(Buffer.alloc(5000, 7));
    expect(fs.statSync(file).mode & 0o222).toBe(0);
    const stored = fs
      .readdirSync(path.join(home, 'artifacts', 'sha256'), { recursive: true })
      .filter((f) => fs.statSync(path.join(home, 'artifacts', 'sha256', String(f))).isFile());
    expect(stored).toHaveLength(2);
    expect(store.artifactPath('0'.repeat(64))).toBeNull();
    expect(store.artifactPath('../../etc/passwd')).toBeNull();
  });

  it('rejects artifact names that escape, before writing anything', async () => {
    const home = tempDir();
    const src = path.join(tempDir(), 'f');
    fs.writeFileSync(src, 'x');
    const store = await open(home);
    for (const name of ['../evil', '/abs', 'a/../../b', 'nul\u0000', 'C:\\x']) {
      await expect(
        store.commitRun(version('j', '1', { artifacts: [{ name, path: src }] })),
      ).rejects.toThrow(ValidationError);
    }
    await expect(store.listJobs()).resolves.toEqual([]);
    expect(fs.existsSync(path.join(home, 'artifacts', 'sha256'))).toBe(false);
  });

  it('answers NotFoundError for unknown stores, jobs and builds', async () => {
    const home = tempDir();
    await expect(openVersionStore(home, { create: false })).rejects.toThrow(NotFoundError);
    expect(fs.existsSync(path.join(home, 'history.git'))).toBe(false);
    const store = await open(home);
    await store.commitRun(version('j', '1'));
    await expect(store.listBuilds('nope')).rejects.toThrow(NotFoundError);
    await expect(store.show('nope', '1')).rejects.toThrow(NotFoundError);
    await expect(store.show('j', '2')).rejects.toThrow(NotFoundError);
    await expect(store.diff('j', '1', '2')).rejects.toThrow(NotFoundError);
  });

  it('serializes parallel writers, in one process and across two stores on one home', async () => {
    const home = tempDir();
    const one = await open(home);
    const two = await open(home);
    const writes: Promise<unknown>[] = [];
    for (let i = 1; i <= 12; i++) {
      writes.push(one.commitRun(version('busy', String(i), { stage: 'a' })));
      writes.push(two.commitRun(version('busy', String(i), { stage: 'b' })));
      writes.push(two.commitRun(version(`other-${i % 3}`, String(i))));
    }
    await Promise.all(writes);
    const gitDir = path.join(home, 'history.git');
    expect(git(gitDir, ['rev-list', '--count', 'jobs/busy']).trim()).toBe('24');
    const builds = await one.listBuilds('busy');
    expect(builds).toHaveLength(12);
    for (const b of builds) {
      expect(b.commits).toHaveLength(2);
      expect(git(gitDir, ['rev-parse', `busy/${b.build}`]).trim()).toBe(b.commits[0]);
    }
    expect(git(gitDir, ['fsck', '--strict', '--no-dangling'])).toBe('');
    expect(fs.existsSync(path.join(home, 'history.lock'))).toBe(false);
  });

  it('ignores the machine: user config, GIT_* variables and templates do not leak in', async () => {
    const home = tempDir();
    const fakeHome = tempDir();
    fs.writeFileSync(
      path.join(fakeHome, '.gitconfig'),
      '[user]\n\tname = Leaky\n\temail = leaky@example.com\n[core]\n\tcompression = 0\n',
    );
    const gitDir = path.join(home, 'history.git');
    const runner = createGitRunner(gitDir, {
      env: {
        ...process.env,
        HOME: fakeHome,
        GIT_DIR: path.join(fakeHome, 'elsewhere.git'),
        GIT_AUTHOR_NAME: 'Leaky',
        GIT_COMMITTER_EMAIL: 'leaky@example.com',
        GIT_CONFIG_PARAMETERS: "'user.name'='Leaky'",
      },
    });
    const store = await openVersionStore(home, { git: runner });
    stores.push(store);
    await store.commitRun(version('j', '1'));
    expect(git(gitDir, ['log', '--format=%an <%ae> %cn <%ce>', 'jobs/j'])).toBe(
      'nbstage <nbstage@localhost> nbstage <nbstage@localhost>\n',
    );
    expect(fs.existsSync(path.join(fakeHome, 'elsewhere.git'))).toBe(false);
  });

  it('reads while a writer holds the lock, and refuses writes once closed', async () => {
    const home = tempDir();
    const store = await openVersionStore(home);
    await store.commitRun(version('j', '1'));
    fs.writeFileSync(
      path.join(home, 'history.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), since: 'now', token: 't' }),
    );
    const reader = await openVersionStore(home, { create: false });
    expect((await reader.listBuilds('j')).map((b) => b.build)).toEqual(['1']);
    await reader.close();
    fs.unlinkSync(path.join(home, 'history.lock'));
    await store.close();
    await store.close();
    await expect(store.commitRun(version('j', '2'))).rejects.toThrow('closed');
  });
});
