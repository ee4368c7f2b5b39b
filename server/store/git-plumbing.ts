/**
 * The git plumbing the version store is made of, typed: writing blobs, trees and commits
 * without a work tree, moving refs in one compare-and-swap transaction, listing refs, reading
 * many objects through one `cat-file --batch`, and packing. Every call goes through a
 * {@link GitRunner}.
 */
import { InternalError } from '../../pipelines/errors';
import { replaceControlCharacters } from './control-chars';
import type { GitRunner } from './git-runner';

/** The object id git uses for "this ref must not exist yet" (SHA-1 repositories). */
export const ZERO_OID = '0000000000000000000000000000000000000000';

/** One entry of a tree written by {@link mkTree}: a regular file. */
export interface TreeFile {
  name: string;
  blob: string;
}

/** The identity and time of a commit. */
export interface CommitIdentity {
  name: string;
  email: string;
  /** When the commit is made. */
  date: Date;
}

/** A ref and the object it points at. */
export interface RefEntry {
  ref: string;
  oid: string;
}

/**
 * One ref move of {@link updateRefs}: it happens only if the ref still points at `old` (null:
 * the ref must not exist yet); without `old`, wherever the ref points.
 */
export interface RefUpdate {
  ref: string;
  next: string;
  old?: string | null;
}

function trimmed(buffer: Buffer): string {
  return buffer.toString('utf8').trim();
}

/** Writes a blob and returns its id (`git hash-object -w --stdin`). */
export async function writeBlob(git: GitRunner, data: string | Buffer): Promise<string> {
  return trimmed((await git.run(['hash-object', '-w', '--stdin'], { input: data })).stdout);
}

/** Writes a flat tree of regular files and returns its id (`git mktree`). */
export async function mkTree(git: GitRunner, files: TreeFile[]): Promise<string> {
  const input = files.map((f) => `100644 blob ${f.blob}\t${f.name}\n`).join('');
  return trimmed((await git.run(['mktree'], { input })).stdout);
}

/** A git identity line cannot hold `<`, `>` or line breaks; git would refuse or mangle them. */
function identityPart(text: string): string {
  const clean = replaceControlCharacters(text, ' ').replace(/[<>]/g, ' ').trim();
  return clean === '' ? 'nbstage' : clean;
}

/** Writes a commit of `tree` with the given parents and message (`git commit-tree`). */
export async function commitTree(
  git: GitRunner,
  tree: string,
  parents: string[],
  message: string,
  author: CommitIdentity,
  committer: CommitIdentity = author,
): Promise<string> {
  const env = {
    GIT_AUTHOR_NAME: identityPart(author.name),
    GIT_AUTHOR_EMAIL: identityPart(author.email),
    GIT_AUTHOR_DATE: `@${Math.floor(author.date.getTime() / 1000)} +0000`,
    GIT_COMMITTER_NAME: identityPart(committer.name),
    GIT_COMMITTER_EMAIL: identityPart(committer.email),
    GIT_COMMITTER_DATE: `@${Math.floor(committer.date.getTime() / 1000)} +0000`,
  };
  const args = ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-F', '-'];
  return trimmed((await git.run(args, { input: message, env })).stdout);
}

/**
 * Moves refs in one transaction (`git update-ref --stdin`): each ref moves only if it still
 * points where the caller saw it (`old`), otherwise nothing moves. This is the commit point of
 * a version: until it succeeds, the objects written before are unreachable and invisible.
 *
 * @returns false when another writer moved one of the refs first
 */
export async function updateRefs(git: GitRunner, updates: RefUpdate[]): Promise<boolean> {
  const input = [
    'start',
    ...updates.map((u) =>
      u.old === undefined
        ? `update ${u.ref} ${u.next}`
        : `update ${u.ref} ${u.next} ${u.old ?? ZERO_OID}`,
    ),
    'prepare',
    'commit',
    '',
  ].join('\n');
  const result = await git.run(['update-ref', '--stdin'], { input, allowFailure: true });
  if (result.code === 0) {
    return true;
  }
  // A lost race leaves the refs as they were; anything else is a real failure.
  const now = await resolveRefs(
    git,
    updates.map((u) => u.ref),
  );
  const raced = updates.some((u) => u.old !== undefined && (now.get(u.ref) ?? null) !== u.old);
  if (raced) {
    return false;
  }
  throw new InternalError(
    `git update-ref failed in ${git.gitDir} (exit ${result.code}): ${result.stderr.trim()}`,
  );
}

/** Where each of `refs` points now (absent refs are left out). */
export async function resolveRefs(git: GitRunner, refs: string[]): Promise<Map<string, string>> {
  const wanted = new Set(refs);
  // A for-each-ref pattern matches the ref itself and the refs below it; keep exact matches.
  const all = await listRefs(git, [...wanted]);
  return new Map(all.filter((e) => wanted.has(e.ref)).map((e) => [e.ref, e.oid]));
}

/** The refs under the given prefixes (`git for-each-ref`), sorted by name. */
export async function listRefs(git: GitRunner, prefixes: string[]): Promise<RefEntry[]> {
  const { stdout } = await git.run([
    'for-each-ref',
    '--format=%(objectname) %(refname)',
    ...prefixes,
  ]);
  return trimmed(stdout)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.indexOf(' ');
      return { oid: line.slice(0, space), ref: line.slice(space + 1) };
    });
}

/**
 * Reads many objects at once (`git cat-file --batch`); each spec is anything git resolves,
 * such as `<commit>:run.json`. Missing objects come back as null.
 */
export async function readObjects(git: GitRunner, specs: string[]): Promise<(Buffer | null)[]> {
  if (specs.length === 0) {
    return [];
  }
  if (specs.some((s) => /[\n\r]/.test(s))) {
    throw new InternalError('object names must not contain line breaks');
  }
  const { stdout } = await git.run(['cat-file', '--batch'], { input: `${specs.join('\n')}\n` });
  const results: (Buffer | null)[] = [];
  let pos = 0;
  for (let i = 0; i < specs.length; i++) {
    const eol = stdout.indexOf(0x0a, pos);
    if (eol < 0) {
      throw new InternalError(`git cat-file --batch ended early in ${git.gitDir}`);
    }
    const header = stdout.subarray(pos, eol).toString('utf8');
    pos = eol + 1;
    const m = /^[0-9a-f]+ \S+ (\d+)$/.exec(header);
    if (m === null) {
      // "<spec> missing" or "<spec> ambiguous"
      results.push(null);
      continue;
    }
    const size = Number(m[1]);
    results.push(stdout.subarray(pos, pos + size));
    pos += size + 1;
  }
  return results;
}

/** One commit of a history walk. */
export interface LogEntry {
  commit: string;
  /** Committer time, seconds since the epoch. */
  time: number;
}

/** The commits reachable from `ref`, newest first (`git rev-list --timestamp`). */
export async function revList(git: GitRunner, ref: string): Promise<LogEntry[]> {
  const text = trimmed((await git.run(['rev-list', '--timestamp', ref])).stdout);
  if (text === '') {
    return [];
  }
  return text.split('\n').map((line) => {
    const [time, commit] = line.split(' ');
    return { commit, time: Number(time) };
  });
}

/** Loose objects and packs, from `git count-objects -v`. */
export interface ObjectCounts {
  loose: number;
  packs: number;
}

/** Counts loose objects and packs. */
export async function countObjects(git: GitRunner): Promise<ObjectCounts> {
  const text = trimmed((await git.run(['count-objects', '-v'])).stdout);
  const field = (name: string): number => {
    const m = new RegExp(`^${name}: (\\d+)$`, 'm').exec(text);
    return m === null ? 0 : Number(m[1]);
  };
  return { loose: field('count'), packs: field('packs') };
}

/**
 * Packs every reachable object into one pack with deltas, removes the packs and loose objects
 * it makes redundant, and packs the refs. Each notebook version is then stored as a small delta
 * against another. Unreachable loose objects (left by a writer killed before its commit point)
 * stay where they are.
 */
export async function packAll(git: GitRunner): Promise<void> {
  await git.run(['repack', '-a', '-d', '-q', '--no-write-bitmap-index']);
  await git.run(['pack-refs', '--all', '--prune']);
}
