/**
 * A lock file shared by processes: `<file>.lock`, created exclusively, removed when the holder is
 * done, broken when it is older than a holder could be (its holder crashed). Used wherever several
 * nbstage processes change one file or claim one thing: the token file, the shared Jupyter
 * server's state, its spare kernels.
 */
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { InternalError } from './errors';

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
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx', 0o600);
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
