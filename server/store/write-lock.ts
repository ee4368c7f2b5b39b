/**
 * Serializes the writers of one nbstage home: an in-process queue (one write at a time per
 * lock object) and a lock file created with O_EXCL, so that two processes on the same home
 * never interleave their ref updates. The lock file names its holder (pid, host); a lock whose
 * holder process is gone (killed, crashed) is broken by the next writer, under a short-lived
 * second lock so that two waiters cannot both break it.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import { StoreBusyError } from '../../pipelines/errors';

/** Who holds the lock, as written into the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Unique per acquisition. */
  token: string;
}

/** Options of {@link WriteLock}. */
export interface WriteLockOptions {
  /** How long to wait for another holder before giving up (default 60 s). */
  timeoutMs?: number;
  /** A lock held this long by a process on another host is taken as dead (default 10 min). */
  foreignStaleMs?: number;
  /** Called after a dead holder's lock was broken, before the critical section runs. */
  onBrokenLock?: (holder: LockHolder | null) => Promise<void>;
}

/** Whether a process with this pid exists on this host. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (
      typeof value.pid === 'number' &&
      typeof value.host === 'string' &&
      typeof value.since === 'string' &&
      typeof value.token === 'string'
    ) {
      return value as LockHolder;
    }
  } catch {
    // a lock file cut short by a crash between create and write
  }
  return null;
}

/** A lock file plus an in-process queue; {@link WriteLock.run} runs one task at a time. */
export class WriteLock {
  private tail: Promise<void> = Promise.resolve();
  private readonly timeoutMs: number;
  private readonly foreignStaleMs: number;

  /**
   * @param file - the lock file (created while a task runs, removed after)
   * @param options - timeouts and the broken-lock hook
   */
  constructor(
    readonly file: string,
    private readonly options: WriteLockOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.foreignStaleMs = options.foreignStaleMs ?? 600_000;
  }

  /**
   * Runs `task` while holding the lock: after the tasks queued before it in this process, and
   * while no other process holds the lock file.
   *
   * @throws StoreBusyError when another live process holds the lock for longer than the timeout
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      const token = await this.acquire();
      try {
        return await task();
      } finally {
        await this.release(token);
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves when the tasks queued so far in this process have finished. */
  idle(): Promise<void> {
    return this.tail;
  }

  /** Takes the lock file, waiting (with backoff) while a live holder has it. */
  private async acquire(): Promise<string> {
    const deadline = Date.now() + this.timeoutMs;
    let delay = 5;
    for (;;) {
      const token = randomBytes(8).toString('hex');
      if (await this.tryCreate(token)) {
        return token;
      }
      const holder = await this.readHolder();
      if (await this.isStale(holder)) {
        if (await this.breakLock(holder)) {
          await this.options.onBrokenLock?.(holder);
        }
        continue;
      }
      if (Date.now() >= deadline) {
        const who = holder === null ? 'another writer' : `pid ${holder.pid} on ${holder.host}`;
        throw new StoreBusyError(
          `${this.file} is held by ${who} since ${holder?.since ?? '?'}; gave up after ${Math.round(this.timeoutMs / 1000)} s`,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  private async tryCreate(token: string): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        return false;
      }
      throw err;
    }
    try {
      const holder: LockHolder = {
        pid: process.pid,
        host: os.hostname(),
        since: new Date().toISOString(),
        token,
      };
      await handle.writeFile(JSON.stringify(holder));
    } finally {
      await handle.close();
    }
    return true;
  }

  private async readHolder(): Promise<LockHolder | null> {
    try {
      return parseHolder(await readFile(this.file, 'utf8'));
    } catch {
      return null;
    }
  }

  /** A holder is dead when its process is gone (same host) or it is very old (other host). */
  private async isStale(holder: LockHolder | null): Promise<boolean> {
    if (holder === null) {
      // Unreadable: being written right now, or cut short by a crash. Judge by its age.
      try {
        const info = await stat(this.file);
        return Date.now() - info.mtimeMs > 5_000;
      } catch {
        return false; // gone already: just retry
      }
    }
    if (holder.host === os.hostname()) {
      return holder.pid !== process.pid && !processAlive(holder.pid);
    }
    return Date.now() - Date.parse(holder.since) > this.foreignStaleMs;
  }

  /**
   * Removes a dead holder's lock file, unless someone else broke it first (checked under a
   * second lock file, itself broken when older than 10 s: it is only held for microseconds).
   */
  private async breakLock(seen: LockHolder | null): Promise<boolean> {
    const breaker = `${this.file}.break`;
    let handle;
    try {
      handle = await open(breaker, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
      const info = await stat(breaker).catch(() => null);
      if (info !== null && Date.now() - info.mtimeMs > 10_000) {
        await unlink(breaker).catch(() => undefined);
      }
      await sleep(5);
      return false;
    }
    await handle.close();
    try {
      const now = await this.readHolder();
      if (now?.token !== seen?.token) {
        return false;
      }
      // Move it aside before deleting, so a reader never sees a half-removed file.
      const aside = `${this.file}.${randomBytes(4).toString('hex')}.dead`;
      await rename(this.file, aside);
      await unlink(aside);
      return true;
    } catch {
      return false;
    } finally {
      await unlink(breaker).catch(() => undefined);
    }
  }

  private async release(token: string): Promise<void> {
    const holder = await this.readHolder();
    if (holder?.token === token) {
      await unlink(this.file).catch(() => undefined);
    }
  }
}
