/**
 * WorkspaceTrees on a real filesystem: a key's tree reused (only what differs rewritten), a
 * concurrent checkout of the same key given a tree of its own, the least recently used idle
 * tree removed beyond the most kept (never one in use), a tree whose sync failed removed, trees
 * an earlier process left removed, names on disk that are hashes, and close removing it all.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NotFoundError, UnavailableError, UsageError } from '../../../pipelines/errors';
import {
  BlobDir,
  createManifest,
  materialize,
  treeStateAfter,
  type FileEntry,
  type Manifest,
} from '../../../pipelines/workspace';
import { WorkspaceTrees } from '../../../server/workers/workspace-trees';
import { useTempDir } from '../../helpers/temp-dirs';
import { listTree } from '../../integration/workspace/tree';

const dir = useTempDir();

function sha(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

function file(p: string, content: string): FileEntry {
  return {
    path: p,
    type: 'file',
    sha256: sha(content),
    size: Buffer.byteLength(content),
    mode: 0o644,
  };
}

const CONTENTS: Record<string, string> = {
  'train.ipynb': '{}',
  'src/helper.py': 'def f(): return 1\n',
  'data/a.csv': '1,2\n',
};

async function setup(): Promise<{
  trees: WorkspaceTrees;
  blobs: BlobDir;
  manifest: Manifest;
  root: string;
}> {
  const base = fs.realpathSync(dir());
  const blobs = new BlobDir(path.join(base, 'blobs'));
  for (const content of Object.values(CONTENTS)) {
    fs.writeFileSync(path.join(base, 'src.tmp'), content);
    await blobs.put(path.join(base, 'src.tmp'));
  }
  const manifest = createManifest(Object.entries(CONTENTS).map(([p, c]) => file(p, c)));
  const root = path.join(base, 'trees');
  return { trees: new WorkspaceTrees(root, { maxTrees: 2 }), blobs, manifest, root };
}

async function expected(manifest: Manifest, blobs: BlobDir): Promise<Record<string, string>> {
  const other = path.join(fs.realpathSync(dir()), 'expected');
  fs.rmSync(other, { recursive: true, force: true });
  await materialize(manifest, other, blobs);
  return listTree(other);
}

describe('WorkspaceTrees', () => {
  it('gives a key its tree again, synced, under a name that is a hash of the key', async () => {
    const { trees, blobs, manifest, root } = await setup();
    try {
      const key = 'job: train/model\0host-1\0/home/ci/ws';
      const first = await trees.checkout(key, manifest, blobs);
      expect(first).toMatchObject({ reused: false, rewritten: 3, kept: 0 });
      expect(listTree(first.dir)).toEqual(await expected(manifest, blobs));
      expect(path.dirname(first.dir)).toBe(root);
      expect(path.basename(first.dir)).toMatch(/^[0-9a-f]{32}-[0-9]+$/);
      expect(path.basename(first.dir).slice(0, 32)).toBe(sha(key).slice(0, 32));
      fs.writeFileSync(path.join(first.dir, 'data/a.csv'), '9,9\n'); // the run
      fs.writeFileSync(path.join(first.dir, 'planted.py'), 'evil');
      first.release(await treeStateAfter(first.dir, first.state, null));
      first.release(null); // later calls do nothing

      const second = await trees.checkout(key, manifest, blobs);
      expect(second).toMatchObject({
        dir: first.dir,
        reused: true,
        rewritten: 1,
        removed: 1,
        kept: 2,
      });
      expect(listTree(second.dir)).toEqual(await expected(manifest, blobs));
      second.release(null);
      const third = await trees.checkout(key, manifest, blobs); // state unknown: all rewritten
      expect(third).toMatchObject({ dir: first.dir, reused: true, rewritten: 3, kept: 0 });
      third.release(third.state);
      const other = await trees.checkout('another job', manifest, blobs);
      expect(other.dir).not.toBe(first.dir);
      other.release(other.state);
    } finally {
      await trees.close();
    }
  });

  it('gives a concurrent checkout of the same key a tree of its own', async () => {
    const { trees, blobs, manifest } = await setup();
    try {
      const [a, b] = await Promise.all([
        trees.checkout('k', manifest, blobs),
        trees.checkout('k', manifest, blobs),
      ]);
      expect(a.dir).not.toBe(b.dir);
      expect(listTree(a.dir)).toEqual(listTree(b.dir));
      a.release(a.state);
      const c = await trees.checkout('k', manifest, blobs); // b is still held
      expect(c.dir).toBe(a.dir);
      b.release(b.state);
      c.release(c.state);
      const d = await trees.checkout('k', manifest, blobs); // the one given back last
      expect(d.dir).toBe(a.dir);
      d.release(d.state);
    } finally {
      await trees.close();
    }
  });

  it('removes the least recently used idle tree beyond the most kept, never one in use', async () => {
    const { trees, blobs, manifest } = await setup();
    try {
      const use = async (key: string): Promise<string> => {
        const tree = await trees.checkout(key, manifest, blobs);
        tree.release(tree.state);
        return tree.dir;
      };
      const a = await use('a');
      const b = await use('b');
      expect(await use('a')).toBe(a); // a used after b
      const c = await use('c');
      await trees.settled();
      expect(trees.size).toBe(2);
      expect(fs.existsSync(b)).toBe(false);
      expect(fs.existsSync(a) && fs.existsSync(c)).toBe(true);

      const held = [
        await trees.checkout('x', manifest, blobs),
        await trees.checkout('y', manifest, blobs),
      ];
      const z = await trees.checkout('z', manifest, blobs);
      await trees.settled();
      // a and c went; x, y and z are all in use, one over the most kept, none removed
      expect(trees.size).toBe(3);
      expect([a, c].some((d) => fs.existsSync(d))).toBe(false);
      for (const tree of [...held, z]) {
        expect(fs.existsSync(tree.dir)).toBe(true);
      }
      held[0].release(held[0].state);
      await trees.settled();
      expect(fs.existsSync(held[0].dir)).toBe(false);
      expect(trees.size).toBe(2);
      held[1].release(held[1].state);
      z.release(z.state);
    } finally {
      await trees.close();
    }
  });

  it('removes a tree whose sync failed and throws what failed', async () => {
    const { trees, blobs, manifest, root } = await setup();
    try {
      const first = await trees.checkout('k', manifest, blobs);
      first.release(first.state);
      const broken = createManifest([
        ...manifest.entries,
        file('data/missing.csv', 'never stored'),
      ]);
      const err = await trees.checkout('k', broken, blobs).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).message).toContain('data/missing.csv');
      expect(fs.existsSync(first.dir)).toBe(false);
      expect(fs.readdirSync(root)).toEqual([]);
      expect(trees.size).toBe(0);
      const fresh = await trees.checkout('k', manifest, blobs);
      expect(fresh).toMatchObject({ reused: false, rewritten: 3 });
      fresh.release(fresh.state);
    } finally {
      await trees.close();
    }
  });

  it('removes trees an earlier process left, and on close everything, after which it refuses', async () => {
    const { trees, blobs, manifest, root } = await setup();
    const stale = path.join(root, `${'0'.repeat(32)}-1`);
    fs.mkdirSync(path.join(stale, 'locked'), { recursive: true });
    fs.chmodSync(path.join(stale, 'locked'), 0o000);
    fs.writeFileSync(path.join(root, 'not-a-tree.txt'), 'left alone');
    const a = await trees.checkout('a', manifest, blobs);
    expect(fs.existsSync(stale)).toBe(false);
    const b = await trees.checkout('b', manifest, blobs);
    b.release(b.state);
    await trees.close();
    expect(fs.readdirSync(root)).toEqual(['not-a-tree.txt']);
    a.release(a.state); // after close: nothing
    expect(trees.size).toBe(0);
    await expect(trees.checkout('a', manifest, blobs)).rejects.toBeInstanceOf(UnavailableError);
    await trees.close(); // idempotent
    fs.rmSync(path.join(root, 'not-a-tree.txt'));
    const again = new WorkspaceTrees(root);
    await again.close();
  });

  it('refuses a most-kept that is not a positive integer', () => {
    expect(() => new WorkspaceTrees(dir(), { maxTrees: 0 })).toThrow(UsageError);
    expect(() => new WorkspaceTrees(dir(), { maxTrees: 1.5 })).toThrow(UsageError);
  });
});
