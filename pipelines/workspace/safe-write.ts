/**
 * Writing entries of a manifest into a folder without ever leaving it: every folder above an
 * entry must be a real folder (made when missing), never a symlink, whether the link points
 * inside the folder or out of it, and each entry is written under a temporary name in its own
 * folder and renamed into place, so a reader sees the old file or the new one, and a symlink
 * already at the path is replaced, not written through. Used by materialize (a run's copy) and
 * writeBack (the caller's workspace). Also the removal of whatever a run left in a tree
 * ({@link removeEntry}): links unlinked, never followed, folders the run made unreadable opened
 * up again, nests too deep for one path moved up before they are entered.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs';
import { chmod, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { readFailureReason } from '../errors';
import { TEMP_PREFIX } from './excludes';
import { SMALL_FILE_BYTES, Yielder } from './pool';

/** The folders above a relative path, outermost first: `a/b/c` -> `a`, `a/b`. */
function foldersAbove(rel: string): string[] {
  const parts = rel.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * Makes the folders above each of `paths` under `root` (an absolute, real path), outermost
 * first, and returns why some of them cannot hold entries: a symlink, a file, a folder that
 * cannot be made. The map's keys are folders (relative); a path below one of them must not be
 * written.
 */
export async function prepareFolders(
  root: string,
  paths: readonly string[],
): Promise<Map<string, string>> {
  const folders = new Set<string>();
  for (const rel of paths) {
    for (const folder of foldersAbove(rel)) {
      folders.add(folder);
    }
  }
  const ordered = [...folders].sort(
    (a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1),
  );
  const refused = new Map<string, string>();
  const yielder = new Yielder();
  for (const folder of ordered) {
    await yielder.tick();
    const parent = path.posix.dirname(folder);
    const above = parent === '.' ? undefined : refused.get(parent);
    if (above !== undefined) {
      refused.set(folder, above);
      continue;
    }
    const problem = ensureFolder(root, folder);
    if (problem !== null) {
      refused.set(folder, problem);
    }
  }
  return refused;
}

/** Makes one folder whose parent is known to be a real folder; the reason it cannot, or null. */
function ensureFolder(root: string, folder: string): string | null {
  const abs = path.join(root, folder);
  try {
    const stats = lstatSync(abs);
    if (stats.isDirectory()) {
      return null;
    }
    if (stats.isSymbolicLink()) {
      let target = '?';
      try {
        target = readlinkSync(abs);
      } catch {
        // shown as '?'
      }
      return `${folder} is a symlink (to ${target}); nothing is written through a link`;
    }
    return `${folder} is a file, not a folder`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      return `${folder} cannot be read: ${readFailureReason(err)}`;
    }
  }
  try {
    mkdirSync(abs);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return ensureFolder(root, folder);
    }
    return `${folder} cannot be made: ${readFailureReason(err)}`;
  }
}

/** Why `rel` must not be written after {@link prepareFolders}, or null when it may. */
export function blockedBy(rel: string, refused: ReadonlyMap<string, string>): string | null {
  const parent = path.posix.dirname(rel);
  return parent === '.' ? null : (refused.get(parent) ?? null);
}

/**
 * Writes one entry at `rel` under `root`: `write` fills a temporary path in the same folder,
 * which is then renamed over whatever is at `rel` (a file or a symlink, never followed). The
 * folders above must have been prepared. Returns the reason it was not written (a folder in
 * the way), or null.
 */
export async function placeEntry(
  root: string,
  rel: string,
  write: (temp: string) => void | Promise<void>,
): Promise<string | null> {
  const abs = path.join(root, rel);
  if (lstatSync(abs, { throwIfNoEntry: false })?.isDirectory() === true) {
    return `${rel} is a folder here`;
  }
  const temp = path.join(path.dirname(abs), tempName());
  try {
    await write(temp);
    renameSync(temp, abs);
    return null;
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * Copies a blob to `temp` with `mode` (`COPYFILE_FICLONE`: a reflink where the filesystem
 * supports it); synchronously when small, asynchronously when large. With `durable`, the copy is
 * flushed to disk before it returns (so a rename after it never shows an empty file after a
 * crash).
 */
export async function copyBlob(
  blob: string,
  temp: string,
  mode: number,
  size: number,
  durable = false,
): Promise<void> {
  if (size <= SMALL_FILE_BYTES) {
    copyFileSync(blob, temp, constants.COPYFILE_FICLONE);
    chmodSync(temp, mode);
  } else {
    await copyFile(blob, temp, constants.COPYFILE_FICLONE);
    await chmod(temp, mode);
  }
  if (durable) {
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Paths longer than this (bytes) are not entered by {@link removeEntry}: the entry is first
 * renamed to a short name, so that no path it uses nears Linux's PATH_MAX (4096), however deep
 * a run nested its folders.
 */
const DEEP_PATH_BYTES = 3072;

const SLASH = Buffer.from('/');

/**
 * Removes whatever is at `target` (an absolute path, as text or as bytes for a name that is not
 * UTF-8) and everything below it, never following a symlink: a link, a FIFO, a socket or a file
 * is unlinked, a folder emptied and removed. A folder without read, write or search permission
 * for its owner (a run's `chmod 000`) gets them back first. Returns the number of entries
 * removed (0 when there was nothing). The calls are synchronous, in slices that yield to the
 * event loop.
 *
 * @throws the failing call's error (EACCES for a folder of another user, EPERM for an immutable
 *   file)
 */
export async function removeEntry(
  target: string | Buffer,
  yielder: Yielder = new Yielder(),
): Promise<number> {
  const top = typeof target === 'string' ? Buffer.from(target) : target;
  return removeBytes(top, top, yielder);
}

async function removeBytes(abs: Buffer, top: Buffer, yielder: Yielder): Promise<number> {
  const stats = lstatSync(abs, { throwIfNoEntry: false });
  if (stats === undefined) {
    return 0;
  }
  if (!stats.isDirectory()) {
    unlinkSync(abs);
    return 1;
  }
  if ((stats.mode & 0o700) !== 0o700) {
    chmodSync(abs, (stats.mode & 0o777) | 0o700);
  }
  let removed = 0;
  for (const name of readdirSync(abs, { encoding: 'buffer' })) {
    await yielder.tick();
    let child = Buffer.concat([abs, SLASH, name]);
    if (child.length > DEEP_PATH_BYTES && top.length + 64 < DEEP_PATH_BYTES) {
      const hoisted = Buffer.concat([top, SLASH, Buffer.from(tempName())]);
      renameSync(child, hoisted);
      child = hoisted;
    }
    removed += await removeBytes(child, top, yielder);
  }
  rmdirSync(abs);
  return removed + 1;
}

/** A name for an entry on its way in or out, never sent nor brought back. */
function tempName(): string {
  return `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
}
