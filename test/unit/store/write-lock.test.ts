/**
 * The writers' lock: one task at a time in a process, one process at a time per lock file, a
 * dead holder's lock broken (and the hook told), a live holder waited for and then given up on
 * with StoreBusyError.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreBusyError } from '../../../pipelines/errors';
import { WriteLock } from '../../../server/store/write-lock';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('WriteLock', () => {
  afterAll(cleanupDirs);

  it('runs the tasks of one process one at a time, in order', async () => {
    const lock = new WriteLock(path.join(tempDir(), 'x.lock'));
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`${name}+`);
      await sleep(5);
      events.push(`${name}-`);
      return name;
    };
    const failing = lock.run(async () => {
      throw new Error('boom');
    });
    const results = await Promise.all([
      lock.run(task('a')),
      lock.run(task('b')),
      lock.run(task('c')),
    ]);
    await expect(failing).rejects.toThrow('boom');
    expect(results).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  });

  it('holds the lock file only while a task runs', async () => {
    const file = path.join(tempDir(), 'x.lock');
    const lock = new WriteLock(file);
    await lock.run(async () => {
      const holder = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; host: string };
      expect(holder.pid).toBe(process.pid);
      expect(holder.host).toBe(os.hostname());
    });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('serializes two lock objects on one file', async () => {
    const file = path.join(tempDir(), 'x.lock');
    const one = new WriteLock(file);
    const two = new WriteLock(file);
    let inside = 0;
    let most = 0;
    const task = async (): Promise<void> => {
      inside++;
      most = Math.max(most, inside);
      await sleep(10);
      inside--;
    };
    await Promise.all([one.run(task), two.run(task), one.run(task), two.run(task)]);
    expect(most).toBe(1);
  });

  it('breaks the lock of a dead process and says so', async () => {
    const file = path.join(tempDir(), 'x.lock');
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: deadPid(), host: os.hostname(), since: 'then', token: 'old' }),
    );
    const broken: (string | undefined)[] = [];
    const lock = new WriteLock(file, {
      timeoutMs: 2000,
      onBrokenLock: async (holder) => {
        broken.push(holder?.token);
      },
    });
    expect(await lock.run(async () => 'ran')).toBe('ran');
    expect(broken).toEqual(['old']);
  });

  it('waits for a live holder, then gives up with StoreBusyError', async () => {
    const file = path.join(tempDir(), 'x.lock');
    // This very process is alive: its lock is never stale.
    fs.writeFileSync(
      file,
      JSON.stringify({ pid: process.pid, host: os.hostname(), since: 'now', token: 'live' }),
    );
    const lock = new WriteLock(file, { timeoutMs: 200 });
    const started = Date.now();
    await expect(lock.run(async () => 'never')).rejects.toThrow(StoreBusyError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    fs.unlinkSync(file);
    expect(await lock.run(async () => 'after')).toBe('after');
  });
});
