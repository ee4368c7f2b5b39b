/**
 * Files only their owner may read, written atomically, and a lock file that serializes the
 * read-modify-write cycles of several processes (the service and `nbstage token` commands) on
 * the same file.
 */
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { InternalError } from '../../pipelines/errors';
import { writeFileAtomic } from '../../pipelines/notebook/io';

/** Mode of the files this module writes: read and write for the owner only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of directories it creates. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes a file atomically with mode 0600: the data goes to a temporary file (created 0600, so
 * the contents are never readable by others, not even for a moment) in the same directory, is
 * flushed to disk, then renamed over the target. Missing parent directories are created 0700.
 *
 * @param file - the target path
 * @param data - the contents (strings are written as UTF-8)
 */
export async function writePrivateFileAtomic(file: string, data: string | Buffer): Promise<void> {
  await writeFileAtomic(file, data, { mode: PRIVATE_FILE_MODE, dirMode: PRIVATE_DIR_MODE });
}

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** How long to wait for another holder before giving up (default 10 s). */
  timeoutMs?: number;
  /** A lock file older than this is taken to be left by a dead process and removed (default 30 s). */
  staleMs?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `fn` while holding `<file>.lock`, an exclusively created file. Every writer of `file`
 * takes the lock, re-reads the file, changes it and writes it back, so no process loses another's
 * change. A lock older than `staleMs` is broken (its holder crashed); holders finish in
 * milliseconds.
 *
 * @throws InternalError naming the lock file when it stays held past `timeoutMs`
 */
export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lock = `${file}.lock`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx', PRIVATE_FILE_MODE);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
    }
    const held = await stat(lock).catch(() => undefined);
    if (held !== undefined && Date.now() - held.mtimeMs > staleMs) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new InternalError(
        `${lock} has been held for over ${timeoutMs} ms; remove it if no nbstage process is running`,
      );
    }
    await sleep(Math.min(5 * 2 ** Math.min(attempt, 4), 80));
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
