/**
 * Keeping the history repository sound: its settings (applied on open), and what writers that
 * were killed leave behind (git's own lock files, half-written packs, temporary artifact copies).
 */
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Bumped when the repository layout changes; written into its config. */
export const LAYOUT_VERSION = '1';
/**
 * Repository settings: no automatic gc (this store packs), no reflogs, durable writes, no
 * files for dumb HTTP serving.
 */
export const REPO_CONFIG: readonly [string, string][] = [
  ['gc.auto', '0'],
  ['core.logAllRefUpdates', 'false'],
  ['core.fsync', 'committed,reference'],
  ['repack.writeBitmaps', 'false'],
  ['repack.updateServerInfo', 'false'],
  // One delta-search thread: threads split the objects and each part gets its own full base.
  ['pack.threads', '1'],
  // git >= 2.41 writes a .rev file per pack by default: 4 bytes an object the store never uses.
  ['pack.writeReverseIndex', 'false'],
  ['nbstage.layout', LAYOUT_VERSION],
];

/**
 * After a writer died holding the lock: removes the lock files git itself may have left (a
 * ref or packed-refs being written, a config edit) and half-written packs. Nobody else writes
 * this repository while the store's lock is held, so these are all dead.
 */
export async function removeStaleGitLocks(gitDir: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(file);
      } else if (entry.name.endsWith('.lock')) {
        await unlink(file).catch(() => undefined);
      }
    }
  };
  await walk(path.join(gitDir, 'refs'));
  // packed-refs.new: the new packed-refs git writes (O_EXCL) before it renames it into place;
  // left by a pack-refs that was killed, it makes every later pack-refs fail ("File exists").
  for (const name of [
    'packed-refs.lock',
    'packed-refs.new',
    'config.lock',
    'HEAD.lock',
    'shallow.lock',
  ]) {
    await unlink(path.join(gitDir, name)).catch(() => undefined);
  }
  const packDir = path.join(gitDir, 'objects', 'pack');
  for (const name of await readdir(packDir).catch(() => [] as string[])) {
    if (name.startsWith('.tmp-') || name.startsWith('tmp_')) {
      await rm(path.join(packDir, name), { force: true });
    }
  }
}

/** Removes temporary artifact copies older than a day (left by writers that were killed). */
export async function sweepArtifactTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const cutoff = Date.now() - 86_400_000;
  for (const name of names) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => null);
    if (info !== null && info.mtimeMs < cutoff) {
      await unlink(file).catch(() => undefined);
    }
  }
}
