/**
 * Kept copies of a workspace: {@link syncTree} brings a folder that an earlier run left (with
 * whatever that run wrote, deleted, chmod'ed, linked or planted) back to exactly a manifest,
 * rewriting only what differs, so a worker reuses a run's copy instead of copying every file
 * again. What may be kept is decided by a {@link TreeState}: per path, what was written there
 * and its `lstat` then. A file is kept only when its `lstat` (inode, size, mtime, ctime) is
 * still the recorded one; a process cannot set ctime, so a file written in place since (even
 * with its mtime set back) is always rewritten, never read. Folders and files are never
 * followed through a symlink and nothing outside the folder is touched.
 *
 * The tree must not be written while syncTree runs, nor between a run's end and
 * {@link treeStateAfter} (the run's processes must be gone): a file changed within the same
 * tick of the filesystem's clock as the recorded `lstat` could keep that `lstat`.
 */
import { chmodSync, lstatSync, readlinkSync, type Stats } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError } from '../errors';
import type { BlobSource } from './blob-dir';
import type { WorkspaceChanges } from './changes';
import type { FileEntry, Manifest, ManifestEntry, SymlinkEntry } from './manifest';
import {
  locateBlobs,
  sameStat,
  writeEntries,
  writtenStat,
  type WrittenStat,
  type WrittenStats,
} from './materialize';
import { Yielder } from './pool';
import { blockedBy, prepareFolders, removeEntry } from './safe-write';
import { validateManifest } from './validate-manifest';
import {
  absoluteIn,
  decodedName,
  joinRel,
  walkFolders,
  type WalkedFile,
  type WalkedSymlink,
} from './walk';

/** The version of the {@link TreeState} format. */
export const TREE_STATE_VERSION = 1;

/** A file of a kept tree: the content and mode written there, and its `lstat` then. */
export interface TreeFileState extends WrittenStat {
  readonly type: 'file';
  readonly sha256: string;
  /** Permission bits, `mode & 0o777`. */
  readonly mode: number;
}

/** A symlink of a kept tree, by its target text. */
export interface TreeSymlinkState {
  readonly type: 'symlink';
  readonly target: string;
}

/** What a kept tree holds at one path. */
export type TreeEntryState = TreeFileState | TreeSymlinkState;

/**
 * What a kept tree is known to hold: plain JSON, to be kept in memory or in a file (outside the
 * tree). A path without an entry is rewritten by the next {@link syncTree}.
 */
export interface TreeState {
  readonly version: typeof TREE_STATE_VERSION;
  /** By path relative to the tree (read them with `Object.entries`: a path may be `__proto__`). */
  readonly entries: Readonly<Record<string, TreeEntryState>>;
}

/** Options of {@link syncTree}. */
export interface SyncTreeOptions {
  /** Files written at once; default 4. */
  readonly concurrency?: number;
}

/** What {@link syncTree} did. */
export interface SyncTreeResult {
  /** What the tree holds now; give it (or {@link treeStateAfter}'s) to the next sync. */
  readonly state: TreeState;
  /** Files and symlinks written. */
  readonly rewritten: number;
  /** Entries deleted (files, links, folders, FIFOs... including those inside deleted folders). */
  readonly removed: number;
  /** Files and symlinks left as they were. */
  readonly kept: number;
}

/** The entries of the states this module made, by state (a state is frozen once made). */
const madeStates = new WeakMap<TreeState, ReadonlyMap<string, TreeEntryState>>();

/** A state of `entries`, frozen, its Map kept for {@link stateEntries}. */
function makeState(entries: ReadonlyMap<string, TreeEntryState>): TreeState {
  const state: TreeState = Object.freeze({
    version: TREE_STATE_VERSION,
    entries: Object.freeze(Object.fromEntries(entries)),
  });
  madeStates.set(state, entries);
  return state;
}

/**
 * The entries of a state as a Map: empty for none or for a state of another version, without
 * what is not an entry at all (a state read back from a file may be damaged; what is left only
 * ever fails to match, and is rewritten).
 */
function stateEntries(state: TreeState | null): ReadonlyMap<string, TreeEntryState> {
  const made = state === null ? undefined : madeStates.get(state);
  if (made !== undefined) {
    return made;
  }
  const entries: unknown = state?.version === TREE_STATE_VERSION ? state.entries : null;
  if (typeof entries !== 'object' || entries === null) {
    return new Map();
  }
  return new Map(
    Object.entries(entries as Record<string, unknown>).filter(
      (pair): pair is [string, TreeEntryState] => typeof pair[1] === 'object' && pair[1] !== null,
    ),
  );
}

/** The folders the entries of a manifest lie in (relative paths, the root excluded). */
function foldersOf(entries: readonly ManifestEntry[]): Set<string> {
  const folders = new Set<string>();
  for (const entry of entries) {
    for (let dir = path.posix.dirname(entry.path); dir !== '.'; dir = path.posix.dirname(dir)) {
      if (folders.has(dir)) {
        break;
      }
      folders.add(dir);
    }
  }
  return folders;
}

/**
 * Whether the file at a path (its `lstat`) may stay as `entry` wants it: a regular file with no
 * other link to it, unchanged since `before` recorded it with the content and mode `entry` wants.
 */
function keepable(stats: Stats, before: TreeEntryState | undefined, entry: FileEntry): boolean {
  return (
    before?.type === 'file' &&
    before.sha256 === entry.sha256 &&
    before.mode === entry.mode &&
    before.size === entry.size &&
    stats.isFile() &&
    stats.nlink === 1 &&
    (stats.mode & 0o7777) === entry.mode &&
    sameStat(stats, before)
  );
}

/** Whether the symlink at `abs` has the target text `target` (compared as bytes). */
function linksTo(abs: string, target: string): boolean {
  return readlinkSync(abs, { encoding: 'buffer' }).equals(Buffer.from(target, 'utf8'));
}

/** The permission bits of a folder as `mkdir` makes it here (the umask applied). */
function folderMode(): number {
  return 0o777 & ~process.umask();
}

/** `dest` as a real folder (a link or file there replaced), its real path, its mode restored. */
async function prepareRoot(dest: string, mode: number): Promise<string> {
  const stats = lstatSync(dest, { throwIfNoEntry: false });
  if (stats !== undefined && !stats.isDirectory()) {
    await removeEntry(path.resolve(dest));
  }
  await mkdir(dest, { recursive: true });
  const root = await realpath(dest);
  if ((lstatSync(root).mode & 0o777) !== mode) {
    chmodSync(root, mode);
  }
  return root;
}

/**
 * Brings the tree at `dest` to exactly `manifest`: every file with its content and mode, every
 * symlink with its target, the folders they lie in and nothing else. The whole tree is walked
 * with no exclusion: anything the manifest does not hold is removed (a `__pycache__`, a `.git/`,
 * a hidden file, a FIFO, a name that is not UTF-8, a folder no entry lies in), whatever its
 * permissions. A file is kept, neither read nor written, only when `previous` recorded it with
 * the content and mode the manifest wants and its `lstat` is still the recorded one (and no
 * other link to it exists); a symlink when its target is the wanted one. Everything else is
 * written from `blobs` as materialize writes it (a temporary file in its folder, a copy with
 * `COPYFILE_FICLONE`, renamed into place); an entry of another type is replaced, a folder on the
 * way that is a symlink (or a file) is removed and made a real folder, never written through.
 * Folders get the mode `mkdir` gives. With `previous` null (or `dest` missing) every file is
 * written: the result is materialize's.
 *
 * `blobs` is asked only for the content of files it writes. On failure, `dest` holds part of
 * either tree: sync it again with `previous` null, or remove it.
 *
 * @throws ValidationError naming the manifest's field; NotFoundError for content the blob
 *   source lacks (after the removals); WorkspaceError for a path that cannot be written
 */
export async function syncTree(
  dest: string,
  manifest: Manifest,
  blobs: BlobSource,
  previous: TreeState | null,
  options: SyncTreeOptions = {},
): Promise<SyncTreeResult> {
  const checked = validateManifest(manifest, { maxEntries: Number.MAX_SAFE_INTEGER });
  const mode = folderMode();
  const root = await prepareRoot(dest, mode);
  const wanted = new Map(checked.entries.map((e) => [e.path, e]));
  const folders = foldersOf(checked.entries);
  const before = stateEntries(previous);
  const kept = new Map<string, TreeEntryState>();
  const doomed: (string | Buffer)[] = [];

  await walkFolders(root, (dir, dirent) => {
    const name = decodedName(dirent);
    if (name === null) {
      doomed.push(
        Buffer.concat([Buffer.from(path.join(root, dir) + path.sep), dirent.name as Buffer]),
      );
      return null;
    }
    const rel = joinRel(dir, name);
    const abs = absoluteIn(root, rel);
    const stats = lstatSync(abs, { throwIfNoEntry: false });
    if (stats === undefined) {
      return null;
    }
    const entry = wanted.get(rel);
    if (folders.has(rel) && stats.isDirectory()) {
      if ((stats.mode & 0o777) !== mode) {
        chmodSync(abs, mode);
      }
      return rel;
    }
    if (entry?.type === 'file' && keepable(stats, before.get(rel), entry)) {
      kept.set(rel, before.get(rel) as TreeFileState);
    } else if (entry?.type === 'symlink' && stats.isSymbolicLink() && linksTo(abs, entry.target)) {
      kept.set(rel, { type: 'symlink', target: entry.target });
    } else if (entry === undefined || stats.isDirectory()) {
      // Not wanted (also a link or a file where a folder belongs: never written through), or a
      // folder where a file or a link belongs.
      doomed.push(abs);
    }
    // else a file, link, FIFO... where a file or link belongs: renamed over below
    return null;
  });

  const yielder = new Yielder();
  let removed = 0;
  for (const target of doomed) {
    removed += await removeEntry(target, yielder);
  }

  const files: FileEntry[] = [];
  const links: SymlinkEntry[] = [];
  for (const entry of checked.entries) {
    if (kept.has(entry.path)) {
      continue;
    }
    if (entry.type === 'file') {
      files.push(entry);
    } else {
      links.push(entry);
    }
  }
  const sources = locateBlobs(files, blobs);
  const refused = await prepareFolders(
    root,
    [...files, ...links].map((e) => e.path),
  );
  for (const entry of [...files, ...links]) {
    const why = blockedBy(entry.path, refused);
    if (why !== null) {
      throw new WorkspaceError(`workspace: cannot write ${entry.path} under ${dest}: ${why}`, {
        path: entry.path,
      });
    }
  }
  const { written } = await writeEntries(root, dest, { files, links }, sources, {
    strategy: 'copy',
    concurrency: options.concurrency,
  });

  const state = new Map<string, TreeEntryState>();
  for (const entry of checked.entries) {
    const known = kept.get(entry.path);
    if (known !== undefined) {
      state.set(entry.path, known);
    } else if (entry.type === 'file') {
      const stat = written.get(entry.path) as WrittenStat;
      state.set(entry.path, { type: 'file', sha256: entry.sha256, mode: entry.mode, ...stat });
    } else {
      state.set(entry.path, { type: 'symlink', target: entry.target });
    }
  }
  return {
    state: makeState(state),
    rewritten: files.length + links.length,
    removed,
    kept: kept.size,
  };
}

/**
 * The state of a tree after a run, from the state it started with (`before`, what
 * {@link syncTree} returned) and what the run changed (`changes`, from `workspaceChanges`, whose
 * digests are of the files as they are now), without reading any file: what the walk of
 * `changes` saw (`changes.seen`), else one `lstat` per path of either. A file whose `lstat` is still the one `before` recorded keeps its entry; a changed
 * file whose `lstat` agrees with `changes` (size and mode) gets its new digest; a symlink its
 * current target when that is the one recorded or reported. Any other path gets no entry, so
 * the next sync rewrites it: a file the run touched without changing it, a file of a built-in
 * folder, anything `changes` does not cover (`--outputs` narrowed it). Nothing is trusted that
 * the next sync does not check again: it keeps only what its own walk finds unchanged.
 */
export async function treeStateAfter(
  dest: string,
  before: TreeState,
  changes: Pick<WorkspaceChanges, 'changed' | 'seen'> | null = null,
): Promise<TreeState> {
  const root = path.resolve(dest);
  const reported = new Map<string, ManifestEntry>();
  for (const entry of changes?.changed ?? []) {
    reported.set(entry.path, entry);
  }
  const recorded = stateEntries(before);
  const paths = new Set([...recorded.keys(), ...reported.keys()]);
  const after = new Map<string, TreeEntryState>();
  const yielder = new Yielder();
  const seen = changes?.seen;
  for (const rel of paths) {
    await yielder.tick();
    // What the walk of `changes` saw, else what is there now.
    const found = seen === undefined ? lookAt(absoluteIn(root, rel)) : lookedAt(seen.get(rel));
    const now = reported.get(rel);
    const old = recorded.get(rel);
    if (found === null) {
      continue;
    }
    if (now?.type === 'file') {
      if (found.type === 'file' && found.size === now.size && found.mode === now.mode) {
        after.set(rel, { type: 'file', sha256: now.sha256, mode: now.mode, ...writtenStat(found) });
      }
    } else if (now?.type === 'symlink' || old?.type === 'symlink') {
      const target = (now ?? old) as TreeSymlinkState;
      if (found.type === 'symlink' && found.target.equals(Buffer.from(target.target, 'utf8'))) {
        after.set(rel, { type: 'symlink', target: target.target });
      }
    } else if (old?.type === 'file' && found.type === 'file' && sameStat(found, old)) {
      after.set(rel, old);
    }
  }
  return makeState(after);
}

/** What a path of a kept tree holds, as {@link treeStateAfter} compares it. */
type Found =
  | ({ readonly type: 'file'; readonly mode: number } & WrittenStat)
  | { readonly type: 'symlink'; readonly target: Buffer }
  | { readonly type: 'other' };

/** What is at `abs` now (its `lstat`, a link's target as bytes); null when nothing is. */
function lookAt(abs: string): Found | null {
  const stats = lstatSync(abs, { throwIfNoEntry: false });
  if (stats === undefined) {
    return null;
  }
  if (stats.isFile()) {
    return { type: 'file', mode: stats.mode & 0o777, ...writtenStat(stats) };
  }
  if (stats.isSymbolicLink()) {
    return { type: 'symlink', target: readlinkSync(abs, { encoding: 'buffer' }) };
  }
  return { type: 'other' };
}

/** What a walk saw at a path (its files and symlinks; anything else counts as nothing). */
function lookedAt(entry: WalkedFile | WalkedSymlink | undefined): Found | null {
  if (entry === undefined) {
    return null;
  }
  return 'target' in entry
    ? { type: 'symlink', target: Buffer.from(entry.target, 'utf8') }
    : { type: 'file', mode: entry.mode, ...writtenStat(entry) };
}

/**
 * The files of a state as materialize's `written` (their `lstat` once written), what
 * `workspaceChanges` compares a run's copy with.
 */
export function treeWrittenStats(state: TreeState): WrittenStats {
  const written = new Map<string, WrittenStat>();
  for (const [rel, entry] of stateEntries(state)) {
    if (entry.type === 'file') {
      written.set(rel, writtenStat(entry));
    }
  }
  return Object.fromEntries(written);
}
