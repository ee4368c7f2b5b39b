/**
 * Maps Jenkins job full names (and build names) to git ref paths and back.
 *
 * A job's readable ref path keeps its folders as ref folders and percent-encodes, byte by byte
 * in UTF-8, everything outside `[A-Za-z0-9_+=,.-]`, plus every `.` that would start or end a
 * folder, follow another `.` or begin a `.lock` suffix. `%` itself is always encoded, so the
 * encoding is injective and percent-decoding reverses it: `team/ml/train` stays
 * `team/ml/train`, `My Job` becomes `My%20Job`, `a_b` stays `a_b`, `..` becomes `%2E%2E`.
 *
 * Git cannot hold both `jobs/a` and `jobs/a/b` (a ref is a file, a folder is a directory), nor,
 * on a case-insensitive file system, both `jobs/Job` and `jobs/job`. A job whose readable path
 * would clash with an existing job's (see {@link refPathsClash}), or whose encoded folder name
 * is too long for a file name, is stored under the hashed path `%/<sha256 of the name>`
 * instead. No readable path has a `%` folder, so the two forms never meet. The choice is made
 * once, when the job's first version is written, and the refs themselves record it.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../../pipelines/errors';
import { hasControlCharacter } from './control-chars';

/** Where the job branches live: `refs/heads/jobs/<job path>`. */
export const JOB_BRANCH_PREFIX = 'refs/heads/jobs/';
/** Where the build tags live: `refs/tags/<job path>/<build>`. */
export const TAG_PREFIX = 'refs/tags/';
/** The folder of hashed job paths. */
export const HASHED_FOLDER = '%';

/** Longest encoded folder name (bytes): file names hold 255, and git adds `.lock` while writing. */
export const MAX_COMPONENT_BYTES = 200;
/** Longest job name accepted (UTF-16 units). */
export const MAX_JOB_LENGTH = 1024;
/** Longest build name accepted. */
export const MAX_BUILD_LENGTH = 100;

const SAFE_BYTE = /^[A-Za-z0-9_+=,-]$/;
const DOT = 0x2e;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function hex(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Percent-encodes one folder (or build) name so that it is a valid ref component on its own
 * and in any position. The result only holds `[A-Za-z0-9_+=,.%-]`.
 */
export function encodeComponent(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const lockSuffix = bytes.length >= 5 && text.toLowerCase().endsWith('.lock');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === DOT) {
      const risky =
        i === 0 ||
        i === bytes.length - 1 ||
        bytes[i - 1] === DOT ||
        (lockSuffix && i === bytes.length - 5);
      out += risky ? hex(byte) : '.';
    } else {
      const char = String.fromCharCode(byte);
      out += byte < 0x80 && SAFE_BYTE.test(char) ? char : hex(byte);
    }
  }
  return out;
}

/**
 * Reverses {@link encodeComponent}; null when `encoded` is not something it produces (a stray
 * `%`, a byte that should have been encoded, or bytes that are not UTF-8).
 */
export function decodeComponent(encoded: string): string | null {
  if (encoded === '' || !/^(?:[A-Za-z0-9_+=,.-]|%[0-9A-F]{2})+$/.test(encoded)) {
    return null;
  }
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
  return encodeComponent(text) === encoded ? text : null;
}

/**
 * Checks a job full name: non-empty, well-formed Unicode, no empty folder (`a//b`, a leading
 * or trailing `/`), at most {@link MAX_JOB_LENGTH} characters. Every name that passes maps to
 * valid refs, so a run or job checked with this at creation can always be versioned.
 *
 * @param field - the field named in the error (`body.job` at the HTTP boundary)
 * @throws ValidationError on field `field`
 */
export function validateJobName(job: string, field = 'job'): void {
  const reject = (why: string): never => {
    throw new ValidationError(field, `${field}: ${why}`);
  };
  if (job.length === 0) {
    reject('must not be empty');
  }
  if (job.length > MAX_JOB_LENGTH) {
    reject(`longer than ${MAX_JOB_LENGTH} characters`);
  }
  if (LONE_SURROGATE.test(job)) {
    reject('not well-formed Unicode (a lone surrogate)');
  }
  if (job.split('/').some((part) => part === '')) {
    reject(`${JSON.stringify(job)} has an empty folder name (a leading, trailing or double "/")`);
  }
}

/**
 * Checks a build name: non-empty, at most {@link MAX_BUILD_LENGTH} characters, no control
 * characters, no `/`, well-formed Unicode. Jenkins' build numbers always pass.
 *
 * @param field - the field named in the error
 * @throws ValidationError on field `field`
 */
export function validateBuildName(build: string, field = 'build'): void {
  if (
    build.length === 0 ||
    build.length > MAX_BUILD_LENGTH ||
    build.includes('/') ||
    hasControlCharacter(build)
  ) {
    throw new ValidationError(
      field,
      `${field}: ${JSON.stringify(build)} must be 1 to ${MAX_BUILD_LENGTH} characters without "/" or control characters`,
    );
  }
  if (LONE_SURROGATE.test(build)) {
    throw new ValidationError(field, `${field}: not well-formed Unicode (a lone surrogate)`);
  }
}

/**
 * The readable ref path of a job (without `refs/heads/jobs/`), or null when one of its encoded
 * folder names is longer than {@link MAX_COMPONENT_BYTES}.
 */
export function readableJobPath(job: string): string | null {
  validateJobName(job);
  const parts = job.split('/').map(encodeComponent);
  return parts.every((p) => p.length <= MAX_COMPONENT_BYTES) ? parts.join('/') : null;
}

/** The hashed ref path of a job: `%/<sha256 of the UTF-8 name>`. */
export function hashedJobPath(job: string): string {
  validateJobName(job);
  return `${HASHED_FOLDER}/${createHash('sha256').update(job, 'utf8').digest('hex')}`;
}

/** Whether a job path is of the hashed form (its name is then only in its `run.json`). */
export function isHashedJobPath(jobPath: string): boolean {
  return /^%\/[0-9a-f]{64}$/.test(jobPath);
}

/**
 * The job name of a readable job path; null for a hashed path or a path that
 * {@link readableJobPath} does not produce.
 */
export function jobNameOfPath(jobPath: string): string | null {
  if (isHashedJobPath(jobPath)) {
    return null;
  }
  const names: string[] = [];
  for (const part of jobPath.split('/')) {
    const name = decodeComponent(part);
    if (name === null || name.includes('/')) {
      return null;
    }
    names.push(name);
  }
  return names.join('/');
}

/** The ref component of a build (see {@link encodeComponent}). */
export function buildComponent(build: string): string {
  validateBuildName(build);
  return encodeComponent(build);
}

/** The build name of a tag's last component; null when it is not an encoded build. */
export function buildOfComponent(component: string): string | null {
  return decodeComponent(component);
}

/** The full branch ref of a job path. */
export function branchRef(jobPath: string): string {
  return `${JOB_BRANCH_PREFIX}${jobPath}`;
}

/** The tag name (without `refs/tags/`) of a build of a job path. */
export function tagName(jobPath: string, build: string): string {
  return `${jobPath}/${buildComponent(build)}`;
}

/**
 * Whether two different ref paths cannot both exist in one repository: one is a folder of the
 * other (`a` and `a/b`), or they differ only in letter case somewhere along their shared
 * folders or in full (`Job` and `job`, `Team/x` and `team/y`), which a case-insensitive file
 * system would mix up. Equal paths do not clash (they are the same ref).
 */
export function refPathsClash(a: string, b: string): boolean {
  if (a === b) {
    return false;
  }
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i].toLowerCase() !== pb[i].toLowerCase()) {
      return false;
    }
    if (pa[i] !== pb[i]) {
      return true;
    }
  }
  // One is a prefix of the other, folder by folder.
  return true;
}
