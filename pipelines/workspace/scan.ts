/**
 * The scan of a workspace: walk the tree (excludes applied, symlinks as links), refuse it when
 * it is over its bounds before any file is read, then hash the files a few at a time, reading
 * only those whose `lstat` changed since the hash cache last saw them, and return the manifest.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError, readFailureReason } from '../errors';
import { loadExcludeRules } from './excludes';
import { hashRegularFile, type FileHasher } from './hasher';
import { HashCache, defaultCacheDir } from './hash-cache';
import {
  DEFAULT_MAX_WORKSPACE_BYTES,
  DEFAULT_MAX_WORKSPACE_FILES,
  checkWorkspaceBytes,
} from './limits';
import {
  createManifest,
  manifestDigest,
  manifestTotals,
  type Manifest,
  type ManifestEntry,
} from './manifest';
import { DEFAULT_CONCURRENCY, Yielder, mapLimit } from './pool';
import { walkTree, type WalkedFile } from './walk';

/** Options of {@link scanWorkspace}. */
export interface ScanOptions {
  /** `--exclude` globs, gitignore syntax relative to the root (see `loadExcludeRules`). */
  readonly exclude?: readonly string[];
  /** `--max-workspace`: the most bytes of file content; default 4 GiB. */
  readonly maxBytes?: number;
  /** The most files and symlinks; default {@link DEFAULT_MAX_WORKSPACE_FILES} (200,000). */
  readonly maxFiles?: number;
  /** The cache folder; default `defaultCacheDir(env)`; `null` hashes every file, saves nothing. */
  readonly cacheDir?: string | null;
  /** Environment the default cache folder is read from; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Files hashed at once; default 4. */
  readonly concurrency?: number;
  /** Hashes one file; default {@link hashRegularFile} (never through a symlink). */
  readonly hashFile?: FileHasher;
}

/** What a scan found. */
export interface ScanResult {
  /** The root scanned, symlinks resolved. */
  readonly root: string;
  /** The manifest, canonical (sorted by path). */
  readonly manifest: Manifest;
  /** `manifestDigest(manifest)`. */
  readonly digest: string;
  /** Files in the manifest (symlinks not counted). */
  readonly files: number;
  /** Bytes of those files. */
  readonly bytes: number;
  /** Files read and hashed by this scan (the others came from the cache). */
  readonly hashed: number;
  /** One line per entry skipped or thing worth saying (a FIFO, a cache not saved). */
  readonly notes: readonly string[];
}

async function realRoot(root: string): Promise<string> {
  try {
    const real = await realpath(root);
    if (!(await stat(real)).isDirectory()) {
      throw new WorkspaceError(`workspace: ${root} is not a folder`);
    }
    return real;
  } catch (err) {
    if (err instanceof WorkspaceError) {
      throw err;
    }
    throw new WorkspaceError(`workspace: cannot read ${root}: ${readFailureReason(err)}`);
  }
}

/** The cache folder as the walk meets it (symlinks resolved), when it exists. */
async function realOrResolved(dir: string): Promise<string> {
  return realpath(dir).catch(() => path.resolve(dir));
}

/**
 * Scans the workspace under `root` and returns its manifest. Left out: the built-in folders
 * `.git/`, `.nbstage/`, `node_modules/`, `.venv/`, `__pycache__/`, `.ipynb_checkpoints/` at any
 * depth; the patterns of a `.nbstageignore` at the root and the `exclude` globs (both gitignore
 * syntax, through the `ignore` package); FIFOs, sockets and devices (with a note); the cache
 * folder when it lies inside the root. Symlinks are entries with their target text, never
 * followed, whether they point inside the root or out of it.
 *
 * @throws WorkspaceError (field `workspace`) for a name that is not valid UTF-8 or cannot travel,
 *   naming the path escaped; WorkspaceLimitError over `maxBytes` or `maxFiles`, before any file
 *   is read, naming the largest entries
 */
export async function scanWorkspace(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  const real = await realRoot(root);
  const cacheDir =
    options.cacheDir === null ? null : (options.cacheDir ?? defaultCacheDir(options.env));
  const skipDirs = new Set<string>();
  if (cacheDir !== null) {
    skipDirs.add(await realOrResolved(cacheDir));
  }
  const rules = await loadExcludeRules(real, options.exclude);
  const walked = await walkTree(real, {
    rules,
    maxEntries: options.maxFiles ?? DEFAULT_MAX_WORKSPACE_FILES,
    badNames: 'refuse',
    skipDirs,
  });
  checkWorkspaceBytes(real, walked.files, options.maxBytes ?? DEFAULT_MAX_WORKSPACE_BYTES);

  const cache = cacheDir === null ? HashCache.disabled(real) : await HashCache.load(cacheDir, real);
  const notes = [...walked.notes];
  const hashFile = options.hashFile ?? hashRegularFile;
  const yielder = new Yielder();
  let hashed = 0;
  const fileEntries = await mapLimit(
    walked.files,
    options.concurrency ?? DEFAULT_CONCURRENCY,
    async (file: WalkedFile): Promise<ManifestEntry | null> => {
      await yielder.tick();
      const cached = cache.lookup(file);
      if (cached !== null) {
        return { path: file.path, type: 'file', sha256: cached, size: file.size, mode: file.mode };
      }
      let result;
      try {
        result = await hashFile(path.join(real, file.path), file.size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          notes.push(`skipped ${file.path}: removed while the workspace was scanned`);
          return null;
        }
        if (err instanceof WorkspaceError) {
          throw err;
        }
        throw new WorkspaceError(`workspace: cannot read ${file.path}: ${readFailureReason(err)}`, {
          path: file.path,
        });
      }
      hashed += 1;
      if (result.size === file.size) {
        cache.record(file, result.sha256);
      }
      return {
        path: file.path,
        type: 'file',
        sha256: result.sha256,
        size: result.size,
        mode: file.mode,
      };
    },
  );
  const saved = await cache.save();
  if (saved !== null) {
    notes.push(saved);
  }
  const entries: ManifestEntry[] = fileEntries.filter((e): e is ManifestEntry => e !== null);
  for (const link of walked.symlinks) {
    entries.push({ path: link.path, type: 'symlink', target: link.target });
  }
  const manifest = createManifest(entries);
  const { files, bytes } = manifestTotals(manifest);
  return { root: real, manifest, digest: manifestDigest(manifest), files, bytes, hashed, notes };
}
