/**
 * What a run changed in its copy of the workspace: the files and symlinks it created or changed
 * (with their new sha256, size and mode) and the paths it deleted, against the manifest the copy
 * was made from. A file is hashed only when its `lstat` differs from what materialize wrote, so
 * an untouched tree of any size costs one `lstat` per file. The built-in folders (a kernel's
 * `__pycache__`, `.ipynb_checkpoints`) never come back; `outputs` globs narrow the rest.
 */
import path from 'node:path';
import { BUILTIN_RULES, outputSelector } from './excludes';
import { hashRegularFile, type FileHasher } from './hasher';
import { DEFAULT_MAX_WORKSPACE_FILES } from './limits';
import { compareBytes, type Manifest, type ManifestEntry } from './manifest';
import { sameStat, writtenStat, type WrittenStats } from './materialize';
import { DEFAULT_CONCURRENCY, Yielder, mapLimit } from './pool';
import { absoluteIn, walkTree, type WalkedFile, type WalkedSymlink } from './walk';

/** What a run changed under its copy. */
export interface WorkspaceChanges {
  /** Created or changed files and symlinks, as manifest entries, sorted by path. */
  readonly changed: ManifestEntry[];
  /** Paths of the manifest that are gone, sorted (listed, never deleted in the caller's root). */
  readonly deleted: string[];
  /** Entries skipped (a name that is not valid UTF-8, a FIFO the run made). */
  readonly notes: string[];
  /**
   * Every file and symlink the walk found (built-in folders apart), with what its `lstat` (or
   * `readlink`) said: what `treeStateAfter` records without a second walk.
   */
  readonly seen?: ReadonlyMap<string, WalkedFile | WalkedSymlink>;
}

/** Options of {@link workspaceChanges}. */
export interface ChangesOptions {
  /** `--outputs` globs (gitignore syntax, see `outputSelector`); none selects everything. */
  readonly outputs?: readonly string[];
  /** Files hashed at once; default 4. */
  readonly concurrency?: number;
  /** Hashes one file; default {@link hashRegularFile}. */
  readonly hashFile?: FileHasher;
  /** The most files and symlinks under the copy; default 200,000. */
  readonly maxFiles?: number;
}

/** Whether a file's `lstat` is the one recorded before the run (then it was not touched). */
function untouched(file: WalkedFile, written: WrittenStats): boolean {
  const before = Object.prototype.hasOwnProperty.call(written, file.path)
    ? written[file.path]
    : undefined;
  return before !== undefined && sameStat(file, before);
}

/**
 * The changes under `dest` since it was materialized from `manifest` (`written` is what
 * materialize returned, or the `lstat` of every file of a folder used in place, see
 * {@link recordedStats}). A file whose `lstat` changed is hashed and reported when its content
 * or mode differs from the manifest's; a path that changed type (a file that became a symlink)
 * is reported with its new type; a manifest path that no longer exists as a file or symlink is
 * deleted. A name that is not valid UTF-8 is skipped with a note, not an error: the other
 * outputs still come back.
 */
export async function workspaceChanges(
  dest: string,
  manifest: Manifest,
  written: WrittenStats,
  options: ChangesOptions = {},
): Promise<WorkspaceChanges> {
  const root = path.resolve(dest);
  const walked = await walkTree(root, {
    rules: BUILTIN_RULES,
    maxEntries: options.maxFiles ?? DEFAULT_MAX_WORKSPACE_FILES,
    badNames: 'skip',
  });
  const before = new Map<string, ManifestEntry>();
  for (const entry of manifest.entries) {
    before.set(entry.path, entry);
  }
  const selected = outputSelector(options.outputs);
  const hashFile = options.hashFile ?? hashRegularFile;
  const yielder = new Yielder();
  const present = new Set<string>();

  // A file recorded before the run and not touched since is no output, whether or not the
  // manifest lists it (an in-place run's folder holds files the manifest left out): told apart
  // here, without a call per file, so that only the touched ones are hashed.
  const touched: WalkedFile[] = [];
  for (const file of walked.files) {
    present.add(file.path);
    if (!untouched(file, written) && selected(file.path)) {
      touched.push(file);
    }
  }
  const fileChanges = await mapLimit(
    touched,
    options.concurrency ?? DEFAULT_CONCURRENCY,
    async (file): Promise<ManifestEntry | null> => {
      await yielder.tick();
      const old = before.get(file.path);
      let hashed;
      try {
        hashed = await hashFile(absoluteIn(root, file.path), file.size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw err;
        }
        present.delete(file.path);
        return null;
      }
      const { sha256, size } = hashed;
      if (old?.type === 'file' && old.sha256 === sha256 && old.mode === file.mode) {
        return null;
      }
      return { path: file.path, type: 'file', sha256, size, mode: file.mode };
    },
  );
  const changed = fileChanges.filter((e): e is ManifestEntry => e !== null);
  const seen = new Map<string, WalkedFile | WalkedSymlink>();
  for (const file of walked.files) {
    if (present.has(file.path)) {
      seen.set(file.path, file);
    }
  }
  for (const link of walked.symlinks) {
    seen.set(link.path, link);
    present.add(link.path);
    const old = before.get(link.path);
    if (selected(link.path) && !(old?.type === 'symlink' && old.target === link.target)) {
      changed.push({ path: link.path, type: 'symlink', target: link.target });
    }
  }
  const deleted = manifest.entries.map((e) => e.path).filter((p) => !present.has(p) && selected(p));
  changed.sort((a, b) => compareBytes(a.path, b.path));
  deleted.sort(compareBytes);
  return { changed, deleted, notes: walked.notes, seen };
}

/**
 * The `lstat` of every file under `root` (built-in folders apart), to tell afterwards what a run
 * that works in the folder itself changed: `workspaceChanges(root, manifest, recorded)`.
 */
export async function recordedStats(
  root: string,
  maxFiles = DEFAULT_MAX_WORKSPACE_FILES,
): Promise<WrittenStats> {
  const walked = await walkTree(path.resolve(root), {
    rules: BUILTIN_RULES,
    maxEntries: maxFiles,
    badNames: 'skip',
  });
  return Object.fromEntries(walked.files.map((f) => [f.path, writtenStat(f)]));
}
