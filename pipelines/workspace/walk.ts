/**
 * The walk of a workspace tree: every file (with what `lstat` says of it) and every symlink
 * (with its target text) under a root, minus what the exclude rules leave out. Symlinks are
 * never followed; FIFOs, sockets and devices are skipped with a note; a name that is not valid
 * UTF-8 (a folder where a name decodes with U+FFFD is read again as bytes to tell) or not a valid
 * relative path is refused or skipped.
 * Nothing is read but folders and links: the walk is what a size check runs on before hashing.
 * The calls are synchronous, in slices that yield to the event loop (see `Yielder`).
 */
import { isUtf8 } from 'node:buffer';
import { lstatSync, readdirSync, readlinkSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { WorkspaceError, readFailureReason } from '../errors';
import { escapeControlCharacters } from '../paths/control-chars';
import { relativePathProblem } from '../paths/relative-path';
import type { ExcludeRules } from './excludes';
import { MAX_WORKSPACE_PATH_LENGTH, tooManyFilesError } from './limits';
import { Yielder } from './pool';

/** A regular file found by the walk, with the fields of its `lstat` a cache or a change check uses. */
export interface WalkedFile {
  readonly path: string;
  readonly size: number;
  /** Permission bits, `mode & 0o777`. */
  readonly mode: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

/** A symlink found by the walk. */
export interface WalkedSymlink {
  readonly path: string;
  readonly target: string;
}

/** What a walk found. */
export interface WalkResult {
  /** Files in the order found (not sorted). */
  readonly files: WalkedFile[];
  readonly symlinks: WalkedSymlink[];
  /** One line per entry skipped (a FIFO, a socket, a device, a bad name when skipped). */
  readonly notes: string[];
}

/** Options of {@link walkTree}. */
export interface WalkOptions {
  /** What is left out. */
  readonly rules: ExcludeRules;
  /** The most files and symlinks; one more throws a WorkspaceLimitError. */
  readonly maxEntries: number;
  /**
   * What a name that is not valid UTF-8 (or not a valid relative path) does: `refuse` throws a
   * WorkspaceError naming it (a scan), `skip` leaves it out with a note (a run's outputs).
   */
  readonly badNames: 'refuse' | 'skip';
  /** Absolute folders not to enter (the hash cache when it lies inside the root). */
  readonly skipDirs?: ReadonlySet<string>;
}

/** A name's bytes shown printable: ASCII as is, anything else (and `\`) as `\xNN`. */
function escapeBytes(name: Buffer): string {
  let out = '';
  for (const byte of name) {
    out +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** `dir/name`, or `name` at the root (`dir` is `''`). */
export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * The absolute path of `rel` (a path a walk made: no `.`, `..` or empty part) under `root` (an
 * absolute path): `path.join` without its normalization, which costs a walk of 10,000 files.
 */
export function absoluteIn(root: string, rel: string): string {
  return root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`;
}

function describeOther(stats: Stats): string {
  if (stats.isFIFO()) {
    return 'a FIFO (named pipe)';
  }
  if (stats.isSocket()) {
    return 'a socket';
  }
  return stats.isBlockDevice() || stats.isCharacterDevice() ? 'a device' : 'not a file';
}

/**
 * Walks `root` (an absolute, real path) and returns its files and symlinks.
 *
 * @throws WorkspaceError (field `workspace`) for a bad name with `badNames: 'refuse'`;
 *   WorkspaceLimitError past `maxEntries`
 */
export async function walkTree(root: string, options: WalkOptions): Promise<WalkResult> {
  const result: WalkResult = { files: [], symlinks: [], notes: [] };
  const seen: { path: string; size: number }[] = [];
  const bad = (shown: string, why: string): void => {
    if (options.badNames === 'refuse') {
      throw new WorkspaceError(
        `workspace: ${shown} ${why}; rename it, or leave it out with --exclude GLOB or a ` +
          '.nbstageignore at the root',
        { path: shown },
      );
    }
    result.notes.push(`skipped ${shown}: ${why}`);
  };
  const count = (rel: string, size: number): void => {
    seen.push({ path: rel, size });
    if (seen.length > options.maxEntries) {
      throw tooManyFilesError(root, seen, options.maxEntries);
    }
  };

  const visit = (dir: string, entry: FolderEntry): string | null => {
    const name = decodedName(entry);
    if (name === null) {
      const bytes = entry.name as Buffer;
      // A pattern may leave it out: matched with each bad byte read as U+FFFD (`caf*` does).
      const lossy = joinRel(dir, bytes.toString('utf8'));
      if (!options.rules.excludes(lossy, entry.isDirectory())) {
        bad(joinRel(dir, escapeBytes(bytes)), 'has a name that is not valid UTF-8');
      }
      return null;
    }
    const rel = joinRel(dir, name);
    const problem = relativePathProblem(rel, {
      folder: 'the workspace',
      maxLength: MAX_WORKSPACE_PATH_LENGTH,
    });
    if (problem !== null) {
      bad(escapeControlCharacters(rel), `cannot travel: a path of a workspace ${problem}`);
      return null;
    }
    const abs = absoluteIn(root, rel);
    if (entry.isDirectory()) {
      return options.rules.excludes(rel, true) || options.skipDirs?.has(abs) === true ? null : rel;
    }
    if (options.rules.excludes(rel, false)) {
      return null;
    }
    if (entry.isSymbolicLink()) {
      const target = attempt(() => readlinkSync(abs, { encoding: 'buffer' }), rel);
      if (target === null) {
        return null;
      }
      if (!isUtf8(target)) {
        bad(rel, `is a symlink whose target (${escapeBytes(target)}) is not valid UTF-8`);
        return null;
      }
      count(rel, 0);
      result.symlinks.push({ path: rel, target: target.toString('utf8') });
      return null;
    }
    const stats = attempt(() => lstatSync(abs), rel);
    if (stats === null) {
      return null;
    }
    if (!stats.isFile()) {
      result.notes.push(`skipped ${rel}: ${describeOther(stats)}`);
      return null;
    }
    count(rel, stats.size);
    result.files.push({
      path: rel,
      size: stats.size,
      mode: stats.mode & 0o777,
      mtimeMs: stats.mtimeMs,
      ctimeMs: stats.ctimeMs,
      ino: stats.ino,
    });
    return null;
  };

  await walkFolders(root, visit);
  return result;
}

/**
 * An entry of a folder as {@link walkFolders} lists it: its name as a string when every name of
 * its folder is valid UTF-8 (the common case: no Buffer per name), else as the bytes `readdir`
 * read (see {@link decodedName}).
 */
export type FolderEntry = Dirent<string> | Dirent<Buffer>;

/** The name of an entry, decoded; null when its bytes are not valid UTF-8. */
export function decodedName(entry: FolderEntry): string | null {
  if (typeof entry.name === 'string') {
    return entry.name;
  }
  return isUtf8(entry.name) ? entry.name.toString('utf8') : null;
}

/**
 * Lists the folders under `root` (an absolute, real path), depth first, starting with `root`
 * itself: `visit` is called with each entry of a folder (`dir` relative to `root`, `''` for the
 * root) and returns the relative path of a subfolder to list next, or null. A folder is read
 * with names decoded; when one of them holds U+FFFD (a byte that is not UTF-8 decodes to it) the
 * folder is read again with names as bytes, so that a bad name is told from a good one and is
 * never decoded. Nothing is followed but what `visit` returns; a folder that vanished meanwhile
 * is passed over. The calls are synchronous, in slices that yield to the event loop.
 *
 * @throws WorkspaceError naming a folder that cannot be listed (permission denied)
 */
export async function walkFolders(
  root: string,
  visit: (dir: string, entry: FolderEntry) => string | null,
): Promise<void> {
  const yielder = new Yielder();
  const pending = [''];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const folder = dir;
    const abs = path.join(root, folder);
    const shown = folder === '' ? '.' : folder;
    let entries: FolderEntry[] | null = attempt(
      () => readdirSync(abs, { withFileTypes: true, encoding: 'utf8' }),
      shown,
    );
    if (entries?.some((e) => e.name.includes('\uFFFD')) === true) {
      entries = attempt(() => readdirSync(abs, { withFileTypes: true, encoding: 'buffer' }), shown);
    }
    for (const entry of entries ?? []) {
      const sub = visit(folder, entry);
      if (sub !== null) {
        pending.push(sub);
      }
      await yielder.tick();
    }
  }
}

/**
 * `look()`, or `null` when the entry vanished (or changed type) between the listing and the
 * look; any other failure is a WorkspaceError naming `rel`.
 */
function attempt<T>(look: () => T, rel: string): T | null {
  try {
    return look();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return null;
    }
    throw new WorkspaceError(`workspace: cannot read ${rel}: ${readFailureReason(err)}`, {
      path: rel,
    });
  }
}
