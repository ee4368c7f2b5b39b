/**
 * The hash cache of scanWorkspace: a second scan of an unchanged tree reads no file (counted by
 * the hasher and by the kernel), a changed file is read again (also one whose mtime was set
 * back), a corrupt cache is ignored and rebuilt, and the cache is private (0700/0600).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hashCacheFile, scanWorkspace } from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';
import { bytesRead, countingHasher, tick, writeTree } from './tree';

const dir = useTempDir();
const MIB = 1024 * 1024;

/** A tree with an 8 MiB file among small ones, and a cache folder beside it. */
async function setup(): Promise<{ root: string; cacheDir: string }> {
  const root = path.join(fs.realpathSync(dir()), 'ws');
  const files: Record<string, string | Buffer> = { 'data/big.bin': Buffer.alloc(8 * MIB, 7) };
  for (let i = 0; i < 20; i++) {
    files[`src/m${i}.py`] = `x = ${i}\n`;
  }
  writeTree(root, files);
  // Timestamps have a tick; files changed in the tick the cache is written are not trusted
  // (the "racy git" rule), so let the clock move on before the first scan.
  await tick();
  return { root, cacheDir: path.join(fs.realpathSync(dir()), 'cache') };
}

describe('the hash cache', () => {
  it('lets a second scan of an unchanged tree read no file', async () => {
    const { root, cacheDir } = await setup();
    const cold = countingHasher();
    const coldBefore = bytesRead();
    const first = await scanWorkspace(root, { cacheDir, hashFile: cold.hashFile });
    const coldAfter = bytesRead();
    expect(first.hashed).toBe(21);
    expect(cold.files).toHaveLength(21);
    if (coldBefore !== null && coldAfter !== null) {
      expect(coldAfter - coldBefore).toBeGreaterThanOrEqual(8 * MIB); // the count sees the reads
    }

    const warm = countingHasher();
    const before = bytesRead();
    const second = await scanWorkspace(root, { cacheDir, hashFile: warm.hashFile });
    const after = bytesRead();
    expect(second.hashed).toBe(0);
    expect(warm.files).toEqual([]);
    expect(second.digest).toBe(first.digest);
    // The kernel's count: the 8 MiB file was not read (the cache file itself is a few KiB).
    if (before !== null && after !== null) {
      expect(after - before).toBeLessThan(MIB);
    }
  });

  it('reads a changed file again, and only that one', async () => {
    const { root, cacheDir } = await setup();
    const first = await scanWorkspace(root, { cacheDir });
    await tick();
    fs.writeFileSync(path.join(root, 'src/m3.py'), 'x = 9\n'); // same size, other content
    const counter = countingHasher();
    const second = await scanWorkspace(root, { cacheDir, hashFile: counter.hashFile });
    expect(counter.files).toEqual([path.join(root, 'src/m3.py')]);
    expect(second.digest).not.toBe(first.digest);
  });

  it('reads a file again whose content changed and whose mtime was set back (ctime moved)', async () => {
    const { root, cacheDir } = await setup();
    const file = path.join(root, 'src/m4.py');
    const mtime = new Date('2024-01-02T03:04:05Z'); // whole seconds: set back exactly below
    fs.utimesSync(file, mtime, mtime);
    await tick();
    const first = await scanWorkspace(root, { cacheDir });
    await tick();
    fs.writeFileSync(file, 'x = 8\n');
    fs.utimesSync(file, mtime, mtime); // what `touch -r` or `cp -p` would do
    expect(fs.statSync(file).mtimeMs).toBe(mtime.getTime());
    const counter = countingHasher();
    const second = await scanWorkspace(root, { cacheDir, hashFile: counter.hashFile });
    expect(counter.files).toEqual([file]);
    expect(second.digest).not.toBe(first.digest);
  });

  it('reads a file again when it was replaced by another (a new inode) of the same size and mtime', async () => {
    const { root, cacheDir } = await setup();
    const file = path.join(root, 'src/m5.py');
    const mtime = new Date('2024-01-02T03:04:05Z');
    fs.utimesSync(file, mtime, mtime);
    await tick();
    await scanWorkspace(root, { cacheDir });
    await tick();
    fs.writeFileSync(`${file}.new`, 'x = 6\n'); // saved by rename, as editors do
    fs.utimesSync(`${file}.new`, mtime, mtime);
    fs.renameSync(`${file}.new`, file);
    expect(fs.statSync(file).mtimeMs).toBe(mtime.getTime());
    const counter = countingHasher();
    await scanWorkspace(root, { cacheDir, hashFile: counter.hashFile });
    expect(counter.files).toEqual([file]);
  });

  it('does not trust entries of files not older than the cache file (racy git)', async () => {
    const { root, cacheDir } = await setup();
    await scanWorkspace(root, { cacheDir });
    // As if the cache had been written in the same tick as the files: set its mtime back.
    const cacheFile = hashCacheFile(cacheDir, root);
    const old = new Date(Date.now() - 3_600_000);
    fs.utimesSync(cacheFile, old, old);
    const counter = countingHasher();
    await scanWorkspace(root, { cacheDir, hashFile: counter.hashFile });
    expect(counter.files).toHaveLength(21);
  });

  it('ignores a corrupt cache and rebuilds it; keeps it private and drops files gone', async () => {
    const { root, cacheDir } = await setup();
    await scanWorkspace(root, { cacheDir });
    const cacheFile = hashCacheFile(cacheDir, root);
    expect(fs.statSync(cacheFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(cacheFile)).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(path.dirname(cacheFile))).toEqual([path.basename(cacheFile)]); // no temp left

    for (const junk of ['{not json', JSON.stringify({ version: 1, root, entries: { a: [1] } })]) {
      fs.writeFileSync(cacheFile, junk);
      await tick();
      const counter = countingHasher();
      const scan = await scanWorkspace(root, { cacheDir, hashFile: counter.hashFile });
      expect(counter.files).toHaveLength(21);
      expect(scan.notes).toEqual([]);
    }
    const rebuilt = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as {
      entries: Record<string, unknown>;
    };
    expect(Object.keys(rebuilt.entries)).toHaveLength(21);

    fs.rmSync(path.join(root, 'src/m0.py'));
    await scanWorkspace(root, { cacheDir });
    const pruned = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as {
      entries: Record<string, unknown>;
    };
    expect(Object.keys(pruned.entries)).toHaveLength(20);
  });

  it('keeps one cache per root, under NBSTAGE_CACHE_DIR, and leaves a cache folder inside the root out', async () => {
    const { root } = await setup();
    const inside = path.join(root, '.cache-here');
    const scan = await scanWorkspace(root, { env: { NBSTAGE_CACHE_DIR: inside } });
    expect(fs.existsSync(hashCacheFile(inside, root))).toBe(true);
    expect(scan.manifest.entries.some((e) => e.path.startsWith('.cache-here'))).toBe(false);
    const again = await scanWorkspace(root, { env: { NBSTAGE_CACHE_DIR: inside } });
    expect(again.hashed).toBe(0);
    expect(again.digest).toBe(scan.digest);
  });

  it('caches a file named __proto__ like any other', async () => {
    const { root, cacheDir } = await setup();
    writeTree(root, { ['__proto__']: 'odd name', 'sub/constructor': 'odder' });
    await tick();
    const first = await scanWorkspace(root, { cacheDir });
    expect(first.files).toBe(23);
    const again = await scanWorkspace(root, { cacheDir });
    expect(again.hashed).toBe(0);
    expect(again.digest).toBe(first.digest);
  });

  it('hashes everything and saves nothing with cacheDir: null', async () => {
    const { root, cacheDir } = await setup();
    await scanWorkspace(root, { cacheDir: null });
    const scan = await scanWorkspace(root, { cacheDir: null });
    expect(scan.hashed).toBe(21);
    expect(fs.existsSync(cacheDir)).toBe(false);
  });
});
