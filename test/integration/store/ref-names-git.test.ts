/**
 * The real git accepts every ref the name mapping makes: `git check-ref-format` on the branch
 * and a tag of hundreds of tricky job names (and their hashed form), and a store that commits
 * a batch of them lists each under its own name.
 */
import { execFileSync } from 'node:child_process';
import { openVersionStore } from '../../../server/store/git-version-store';
import {
  branchRef,
  hashedJobPath,
  readableJobPath,
  TAG_PREFIX,
  tagName,
} from '../../../server/store/ref-names';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';
import { trickyNames } from '../../unit/store/tricky-names';
import { realisticNotebook, runRecord } from './fixtures';

/** The refs `git check-ref-format` refuses, checked in one shell (one git per ref). */
function refusedByGit(refs: string[]): string[] {
  const script =
    'while IFS= read -r ref; do git check-ref-format "$ref" || printf "%s\\n" "$ref"; done';
  const out = execFileSync('sh', ['-c', script], {
    input: `${refs.join('\n')}\n`,
    encoding: 'utf8',
  });
  return out.split('\n').filter((line) => line !== '');
}

describe('ref names against the real git', () => {
  afterAll(cleanupDirs);

  it('makes only refs git accepts, for tricky names and their hashed form', () => {
    const names = trickyNames(300, 7);
    const refs: string[] = [];
    for (const name of names) {
      for (const jobPath of [readableJobPath(name) as string, hashedJobPath(name)]) {
        refs.push(branchRef(jobPath), `${TAG_PREFIX}${tagName(jobPath, '42')}`);
      }
    }
    refs.push(`${TAG_PREFIX}${tagName('j', 'rc 1.lock')}`, `${TAG_PREFIX}${tagName('j', '..')}`);
    expect(refs.length).toBeGreaterThan(1200);
    expect(refusedByGit(refs)).toEqual([]);
    // The shell loop does report refusals.
    expect(refusedByGit(['refs/heads/a..b', 'refs/heads/ok'])).toEqual(['refs/heads/a..b']);
  });

  it('stores a batch of tricky names, each listed and shown under its own name', async () => {
    const names = trickyNames(40, 99);
    const store = await openVersionStore(tempDir());
    try {
      for (const name of names) {
        await store.commitRun({
          job: name,
          build: '1',
          runId: name,
          notebook: realisticNotebook(),
          run: runRecord(),
        });
      }
      expect(await store.listJobs()).toEqual([...names].sort());
      for (const name of names) {
        expect((await store.show(name, '1')).run.run_id).toBe(name);
      }
    } finally {
      await store.close();
    }
  });
});
