/**
 * Materializing a manifest: the tree it describes written under a folder (a run's copy of the
 * workspace), files from a {@link BlobSource} with the recorded permission bits, symlinks as
 * recorded, never anything outside the folder. Returns what each file's `lstat` said once
 * written, so that `workspaceChanges` can tell later which files a run touched.
 *
 * Two strategies:
 * - `copy` (the default): `copyFile` with `COPYFILE_FICLONE`, a reflink (copy-on-write clone,
 *   as fast as a link) where the filesystem supports it (btrfs, XFS, APFS), a plain copy
 *   elsewhere. The run's files are its own.
 * - `link`: a hard link to the blob file, where the blob's permission bits are those recorded
 *   (otherwise, and where no link can be made: another device, EPERM, EMLINK, a copy). A link
 *   shares the blob's inode: a process that writes into the file in place (`open(..., 'w')`)
 *   writes into the blob itself, and a `chmod` changes the blob's mode. A {@link BlobDir} keeps
 *   its blobs read-only (0444), so from one only files recorded read-only are linked, and a
 *   process that can ignore permission bits (root) could still write them. Use `link` where the
 *   tree is not written in place, or the blobs are a disposable cache.
 */
import { linkSync, lstatSync, statSync, symlinkSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError, WorkspaceError } from '../errors';
import type { BlobSource } from './blob-dir';
import type { FileEntry, Manifest, SymlinkEntry } from './manifest';
import { DEFAULT_CONCURRENCY, Yielder, mapLimit } from './pool';
import { blockedBy, copyBlob, placeEntry, prepareFolders } from './safe-write';
import { validateManifest } from './validate-manifest';

/** How files are written: hard links from the blobs, or copies (reflinks where possible). */
export type MaterializeStrategy = 'link' | 'copy';

/** The `lstat` fields of a file as written, which change when the file is written again. */
export interface WrittenStat {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** What was written, by path relative to the folder (files only; plain JSON, to be kept). */
export type WrittenStats = Readonly<Record<string, WrittenStat>>;

/** Options of {@link materialize}. */
export interface MaterializeOptions {
  /** Default `copy`; see the module's header. */
  readonly strategy?: MaterializeStrategy;
  /** Files written at once; default 4. */
  readonly concurrency?: number;
}

/** What {@link materialize} wrote. */
export interface MaterializeResult {
  readonly written: WrittenStats;
  /** Files written as hard links. */
  readonly linked: number;
  /** Files written as copies (reflinks where the filesystem made them). */
  readonly copied: number;
  readonly symlinks: number;
}

/** Errors of `link(2)` after which a copy is the way: another device, not allowed, too many links. */
const LINK_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'EACCES', 'ENOTSUP', 'EOPNOTSUPP']);

/** Hard-links `blob` at `temp`; false where a link cannot be made here (then copy). */
function tryLink(blob: string, temp: string): boolean {
  try {
    linkSync(blob, temp);
    return true;
  } catch (err) {
    if (LINK_FALLBACK.has((err as NodeJS.ErrnoException).code ?? '')) {
      return false;
    }
    throw err;
  }
}

/** Whether `stats` is the `lstat` that `before` recorded (then the file was not written since). */
export function sameStat(stats: WrittenStat, before: WrittenStat): boolean {
  return (
    stats.ino === before.ino &&
    stats.size === before.size &&
    stats.mtimeMs === before.mtimeMs &&
    stats.ctimeMs === before.ctimeMs
  );
}

/** The statistics of a written file that {@link WrittenStat} keeps. */
export function writtenStat(stats: {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}): WrittenStat {
  return { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs };
}

/**
 * The blob file of each distinct sha256 of `files`, asked of `blobs` once per digest.
 *
 * @throws NotFoundError naming the first files (path and sha256) whose content `blobs` lacks
 */
export function locateBlobs(
  files: readonly FileEntry[],
  blobs: BlobSource,
): ReadonlyMap<string, string> {
  const found = new Map<string, string>();
  const missing: string[] = [];
  for (const entry of files) {
    if (found.has(entry.sha256)) {
      continue;
    }
    const file = blobs.path(entry.sha256);
    if (file === null) {
      missing.push(`${entry.path} (sha256 ${entry.sha256})`);
    } else {
      found.set(entry.sha256, file);
    }
  }
  if (missing.length > 0) {
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
    throw new NotFoundError(
      `the content of ${missing.slice(0, 3).join(', ')}${more} is not in the blob source`,
    );
  }
  return found;
}

/** What {@link writeEntries} wrote. */
export interface WrittenEntries {
  /** The `lstat` of each file once written, by path (a Map: a file may be named `__proto__`). */
  readonly written: Map<string, WrittenStat>;
  readonly linked: number;
  readonly copied: number;
}

/**
 * Writes `files` (from their blobs in `sources`, see {@link locateBlobs}) and `links` under
 * `root` (an absolute, real path), each under a temporary name in its folder and renamed over
 * whatever non-folder is at its path, and returns each file's `lstat` once written. The folders
 * above every entry must have been prepared (`prepareFolders`); `dest` is how messages name
 * the tree.
 *
 * @throws WorkspaceError for a path where a folder is in the way
 */
export async function writeEntries(
  root: string,
  dest: string,
  entries: { readonly files: readonly FileEntry[]; readonly links: readonly SymlinkEntry[] },
  sources: ReadonlyMap<string, string>,
  options: MaterializeOptions = {},
): Promise<WrittenEntries> {
  const strategy = options.strategy ?? 'copy';
  const blobModes = new Map<string, number>();
  const blobMode = (file: string): number => {
    let mode = blobModes.get(file);
    if (mode === undefined) {
      mode = statSync(file).mode & 0o777;
      blobModes.set(file, mode);
    }
    return mode;
  };
  let linked = 0;
  let copied = 0;
  const written = new Map<string, WrittenStat>();
  const place = async (
    rel: string,
    write: (temp: string) => void | Promise<void>,
  ): Promise<void> => {
    const why = await placeEntry(root, rel, write);
    if (why !== null) {
      throw new WorkspaceError(`workspace: cannot write ${rel} under ${dest}: ${why}`, {
        path: rel,
      });
    }
  };

  const yielder = new Yielder();
  await mapLimit(entries.files, options.concurrency ?? DEFAULT_CONCURRENCY, async (entry) => {
    await yielder.tick();
    const blob = sources.get(entry.sha256) as string;
    let wasLinked = false;
    await place(entry.path, async (temp) => {
      if (strategy === 'link' && blobMode(blob) === entry.mode && tryLink(blob, temp)) {
        wasLinked = true;
        return;
      }
      await copyBlob(blob, temp, entry.mode, entry.size);
    });
    if (wasLinked) {
      linked += 1;
    } else {
      copied += 1;
    }
    written.set(entry.path, writtenStat(lstatSync(path.join(root, entry.path))));
  });
  for (const entry of entries.links) {
    await yielder.tick();
    await place(entry.path, (temp) => symlinkSync(entry.target, temp));
  }
  return { written, linked, copied };
}

/**
 * Writes the tree of `manifest` under `dest` (made when missing): folders, files with their
 * recorded modes, symlinks with their recorded targets. Entries already under `dest` at the
 * same paths are replaced (never written through); others are left alone. Nothing is written
 * outside `dest`: the manifest is checked (no `..`, no entry below a symlink entry), and a
 * folder on the way that is a symlink in `dest` refuses the whole tree before any file is
 * written. On another failure, `dest` may hold part of the tree.
 *
 * @throws ValidationError naming the manifest's field; NotFoundError for content the blob
 *   source lacks; WorkspaceError for a path `dest` cannot take
 */
export async function materialize(
  manifest: Manifest,
  dest: string,
  blobs: BlobSource,
  options: MaterializeOptions = {},
): Promise<MaterializeResult> {
  const checked = validateManifest(manifest, { maxEntries: Number.MAX_SAFE_INTEGER });
  const files = checked.entries.filter((e): e is FileEntry => e.type === 'file');
  const links = checked.entries.filter((e): e is SymlinkEntry => e.type === 'symlink');
  const sources = locateBlobs(files, blobs);
  await mkdir(dest, { recursive: true });
  const root = await realpath(dest);

  const refused = await prepareFolders(
    root,
    checked.entries.map((e) => e.path),
  );
  for (const entry of checked.entries) {
    const why = blockedBy(entry.path, refused);
    if (why !== null) {
      throw new WorkspaceError(`workspace: cannot write ${entry.path} under ${dest}: ${why}`, {
        path: entry.path,
      });
    }
  }

  const { written, linked, copied } = await writeEntries(
    root,
    dest,
    { files, links },
    sources,
    options,
  );
  return { written: Object.fromEntries(written), linked, copied, symlinks: links.length };
}
