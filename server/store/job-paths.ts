/**
 * Where a job's versions live in the repository: its readable ref path, or its hashed one when
 * the readable path would clash with another job's (see ref-names).
 */
import type { GitRunner } from './git-runner';
import { listRefs } from './git-plumbing';
import {
  JOB_BRANCH_PREFIX,
  hashedJobPath,
  readableJobPath,
  refPathsClash,
  validateJobName,
} from './ref-names';

/** Job paths (without `refs/heads/jobs/`) -> their tip commit. */
export async function readJobRefs(git: GitRunner): Promise<Map<string, string>> {
  const entries = await listRefs(git, [JOB_BRANCH_PREFIX]);
  return new Map(
    entries
      .filter((e) => e.ref.startsWith(JOB_BRANCH_PREFIX))
      .map((e) => [e.ref.slice(JOB_BRANCH_PREFIX.length), e.oid]),
  );
}

/**
 * The job's path when it has versions: its readable path, else its hashed path; or null.
 *
 * @throws ValidationError for a job name the store cannot hold
 */
export function findJobPath(job: string, refs: Map<string, string>): string | null {
  validateJobName(job);
  const readable = readableJobPath(job);
  if (readable !== null && refs.has(readable)) {
    return readable;
  }
  const hashed = hashedJobPath(job);
  return refs.has(hashed) ? hashed : null;
}

/**
 * The path to write a job's version to (called under the lock): where it already is, else
 * its readable path unless that clashes with another job's, else its hashed path.
 */
export function jobPathForWrite(job: string, refs: Map<string, string>): string {
  const existing = findJobPath(job, refs);
  if (existing !== null) {
    return existing;
  }
  const readable = readableJobPath(job);
  if (readable !== null && ![...refs.keys()].some((other) => refPathsClash(readable, other))) {
    return readable;
  }
  return hashedJobPath(job);
}
