/**
 * A writer killed with SIGKILL at any moment (while writing objects, moving refs or packing;
 * alone or with its git children) never leaves a half-written version: git fsck is clean, every
 * ref points at a commit holding a valid notebook and run.json, every version the writer
 * reported as committed is there, and the next writer breaks the dead lock and carries on.
 * The killed writer is the built store (dist/, `npm run build`), run in a child process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validateNotebook } from '../../../pipelines/notebook/validate';
import { openVersionStore } from '../../../server/store/git-version-store';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';
import { git, realisticNotebook, runRecord } from './fixtures';

const DIST_STORE = path.resolve(__dirname, '../../../dist/server/store/git-version-store.js');
const ROUNDS = 8;
const JOBS = ['team/ml/train', 'a b', 'x/y.lock'];

/** The writer: commits versions in a loop, printing the run id of each one committed. */
const WRITER = `
const fs = require('node:fs');
const { openVersionStore } = require(process.argv[1]);
const [home, inputFile, round] = process.argv.slice(2);
const { notebook, run, artifact, jobs } = JSON.parse(fs.readFileSync(inputFile, 'utf8'));
(async () => {
  const store = await openVersionStore(home, { packEvery: 12, lockTimeoutMs: 20000 });
  for (let i = 0; ; i++) {
    const runId = 'r' + round + '-' + i;
    const build = String(Number(round) * 1000 + Math.floor(i / 2));
    await store.commitRun({
      job: jobs[i % jobs.length],
      build,
      runId,
      stage: i % 2 === 0 ? 'prepare' : 'train',
      notebook: { ...notebook, metadata: { ...notebook.metadata, nbstage: { run_id: runId } } },
      run: { ...run, metrics: { accuracy: i / 1000 } },
      artifacts: [{ name: 'model.bin', path: artifact }],
    });
    process.stdout.write(runId + '\\n');
  }
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\\n');
  process.exit(1);
});
`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the writer until it has committed `after` versions plus `delayMs`, then SIGKILLs it. */
function runAndKill(
  home: string,
  inputFile: string,
  round: number,
  after: number,
  delayMs: number,
  wholeGroup: boolean,
): Promise<{ committed: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', WRITER, DIST_STORE, home, inputFile, String(round)],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const committed: string[] = [];
    let stderr = '';
    let killing = false;
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      committed.push(...lines);
      if (!killing && committed.length >= after) {
        killing = true;
        void sleep(delayMs).then(() => {
          const pid = child.pid as number;
          // The whole group takes git down mid-command too; the node process alone leaves its
          // current git command to finish as an orphan.
          process.kill(wholeGroup ? -pid : pid, 'SIGKILL');
        });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', () => resolve({ committed, stderr }));
  });
}

describe('version store under SIGKILL', () => {
  afterAll(cleanupDirs);

  it('never leaves a half-written version', async () => {
    if (!fs.existsSync(DIST_STORE)) {
      throw new Error(`${DIST_STORE} is missing: run \`npm run build\` first`);
    }
    const home = tempDir();
    const inputDir = tempDir();
    const gitDir = path.join(home, 'history.git');
    const acknowledged: string[] = [];
    let killedHoldingLock = 0;
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 16807) % 2147483647;
      return seed % n;
    };

    for (let round = 1; round <= ROUNDS; round++) {
      const artifact = path.join(inputDir, `model-${round}.bin`);
      fs.writeFileSync(artifact, Buffer.alloc(200_000 + round, round));
      const inputFile = path.join(inputDir, `input-${round}.json`);
      fs.writeFileSync(
        inputFile,
        JSON.stringify({ notebook: realisticNotebook(), run: runRecord(), artifact, jobs: JOBS }),
      );
      const { committed, stderr } = await runAndKill(
        home,
        inputFile,
        round,
        3 + random(6),
        random(60),
        round % 2 === 0,
      );
      expect(stderr).toBe('');
      expect(committed.length).toBeGreaterThanOrEqual(3);
      acknowledged.push(...committed);
      if (fs.existsSync(path.join(home, 'history.lock'))) {
        killedHoldingLock++;
      }
    }

    // Most kills land inside a write (the lock is held for nearly all of a commit).
    expect(killedHoldingLock).toBeGreaterThan(0);

    // The repository is sound, and every ref is a whole version.
    git(gitDir, ['fsck', '--strict', '--no-dangling', '--no-progress']);
    const refs = git(gitDir, ['for-each-ref', '--format=%(objectname) %(objecttype) %(refname)'])
      .trim()
      .split('\n');
    expect(refs.length).toBeGreaterThan(JOBS.length);
    const found = new Set<string>();
    for (const line of refs) {
      const [commit, type, ref] = line.split(' ');
      expect(`${ref} ${type}`).toBe(`${ref} commit`);
      expect(git(gitDir, ['ls-tree', '--name-only', commit])).toBe('notebook.ipynb\nrun.json\n');
      const nb = validateNotebook(
        JSON.parse(git(gitDir, ['show', `${commit}:notebook.ipynb`])),
        `${ref}:notebook.ipynb`,
      );
      const run = JSON.parse(git(gitDir, ['show', `${commit}:run.json`])) as { run_id: string };
      expect(nb.metadata.nbstage?.run_id).toBe(run.run_id);
    }
    for (const job of JOBS) {
      const branch = `refs/heads/jobs/${job.replace(' ', '%20').replace('.lock', '%2Elock')}`;
      const log = git(gitDir, ['log', '--format=%H', branch]).trim().split('\n');
      for (const commit of log) {
        found.add(
          (JSON.parse(git(gitDir, ['show', `${commit}:run.json`])) as { run_id: string }).run_id,
        );
      }
    }
    // Everything the writers reported as committed survived them.
    expect(acknowledged.filter((id) => !found.has(id))).toEqual([]);

    // The next writer takes over the dead writer's lock and works.
    const store = await openVersionStore(home, { lockTimeoutMs: 5000 });
    await store.commitRun({
      job: JOBS[0],
      build: '99999',
      runId: 'after',
      notebook: realisticNotebook(),
      run: runRecord(),
    });
    expect((await store.listBuilds(JOBS[0]))[0].build).toBe('99999');
    await store.close();
    git(gitDir, ['fsck', '--strict', '--no-dangling', '--no-progress']);
    expect(fs.existsSync(path.join(home, 'history.lock'))).toBe(false);
    const artifacts = path.join(home, 'artifacts', 'sha256');
    for (const sub of fs.readdirSync(artifacts)) {
      for (const file of fs.readdirSync(path.join(artifacts, sub))) {
        const size = fs.statSync(path.join(artifacts, sub, file)).size;
        expect(size).toBeGreaterThan(200_000);
      }
    }
  });
});
