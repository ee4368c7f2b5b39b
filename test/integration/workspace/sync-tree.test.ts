/**
 * syncTree on a real filesystem: a kept tree brought back to exactly a manifest after a run
 * that wrote files in place (mtime set back), appended, deleted, replaced files and folders by
 * symlinks out of the tree, planted byte code, git hooks, hidden files and a FIFO, chmod'ed
 * files and folders; an unchanged tree kept without reading or writing any file; only what a
 * new manifest changes rewritten; treeStateAfter letting a run's outputs be kept next time.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  BlobDir,
  createManifest,
  materialize,
  syncTree,
  treeStateAfter,
  treeWrittenStats,
  workspaceChanges,
  type BlobSource,
  type FileEntry,
  type Manifest,
  type ManifestEntry,
} from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';
import { bytesRead, listTree, tick } from './tree';

const dir = useTempDir();
const MIB = 1024 * 1024;

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function file(p: string, content: string | Buffer, mode = 0o644): FileEntry {
  return { path: p, type: 'file', sha256: sha(content), size: Buffer.byteLength(content), mode };
}

/** A BlobDir (beside the trees) holding `contents`. */
async function blobDir(contents: (string | Buffer)[]): Promise<BlobDir> {
  const blobs = new BlobDir(path.join(base(), 'blobs'));
  for (const content of contents) {
    const src = path.join(base(), 'src.tmp');
    fs.writeFileSync(src, content);
    await blobs.put(src);
  }
  return blobs;
}

/** A source that records every digest it is asked for. */
function asking(blobs: BlobSource): { source: BlobSource; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    source: {
      path: (digest) => {
        asked.push(digest);
        return blobs.path(digest);
      },
    },
  };
}

function base(): string {
  return fs.realpathSync(dir());
}

/** What a fresh materialize of `manifest` lists. */
async function fresh(manifest: Manifest, blobs: BlobSource): Promise<Record<string, string>> {
  const other = path.join(base(), `fresh-${Math.random().toString(16).slice(2)}`);
  await materialize(manifest, other, blobs);
  const listing = listTree(other);
  fs.rmSync(other, { recursive: true, force: true });
  return listing;
}

/** inode and ctime of every file under the manifest's paths. */
function inodes(dest: string, manifest: Manifest): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const entry of manifest.entries) {
    const stats = fs.lstatSync(path.join(dest, entry.path));
    out[entry.path] = [stats.ino, stats.ctimeMs];
  }
  return out;
}

const BIG = Buffer.alloc(2 * MIB, 7);
const FILES: Record<string, string | Buffer> = {
  'train.ipynb': '{"cells":[]}',
  'src/helper.py': 'def f(): return 1\n',
  'src/model.py': 'class Net: pass\n',
  'src/deep/a/b.py': 'B = 2\n',
  'data/train.csv': 'x,y\n1,2\n',
  'data/test.csv': 'x,y\n3,4\n',
  'data/valid.csv': 'x,y\n5,6\n',
  'data/big.bin': BIG,
  'notes.md': '# notes\n',
  'config/a.yaml': 'a: 1\n',
  'lib/util.py': 'U = 1\n',
};

async function setup(): Promise<{ manifest: Manifest; blobs: BlobDir; dest: string }> {
  const entries: ManifestEntry[] = Object.entries(FILES).map(([p, c]) => file(p, c));
  entries.push(file('run.sh', '#!/bin/sh\necho hi\n', 0o755));
  entries.push(file('secret.env', 'TOKEN=1\n', 0o600));
  entries.push({ path: 'link.md', type: 'symlink', target: 'notes.md' });
  entries.push({ path: 'datasets', type: 'symlink', target: '/mnt/datasets' });
  const blobs = await blobDir([...Object.values(FILES), '#!/bin/sh\necho hi\n', 'TOKEN=1\n']);
  return { manifest: createManifest(entries), blobs, dest: path.join(base(), 'tree') };
}

describe('syncTree', () => {
  it('writes from nothing what materialize writes, then keeps an unchanged tree without reading or writing a file', async () => {
    const { manifest, blobs, dest } = await setup();
    const first = await syncTree(dest, manifest, blobs, null);
    expect(first).toMatchObject({ rewritten: manifest.entries.length, removed: 0, kept: 0 });
    expect(listTree(dest)).toEqual(await fresh(manifest, blobs));
    for (const entry of manifest.entries) {
      const stats = fs.lstatSync(path.join(dest, entry.path));
      expect(first.state.entries[entry.path]).toEqual(
        entry.type === 'file'
          ? {
              type: 'file',
              sha256: entry.sha256,
              mode: entry.mode,
              ino: stats.ino,
              size: stats.size,
              mtimeMs: stats.mtimeMs,
              ctimeMs: stats.ctimeMs,
            }
          : { type: 'symlink', target: entry.target },
      );
    }

    const before = inodes(dest, manifest);
    await tick();
    const counting = asking(blobs);
    const read = bytesRead();
    const second = await syncTree(dest, manifest, counting.source, first.state);
    const readAfter = bytesRead();
    expect(second).toMatchObject({ rewritten: 0, removed: 0, kept: manifest.entries.length });
    expect(counting.asked).toEqual([]); // no blob was looked for, let alone copied
    expect(inodes(dest, manifest)).toEqual(before); // nothing rewritten (ctime would move)
    expect(second.state).toEqual(first.state);
    if (read !== null && readAfter !== null) {
      expect(readAfter - read).toBeLessThan(MIB); // data/big.bin alone is 2 MiB
    }

    // The state survives JSON (a file) as it is.
    const again = await syncTree(
      dest,
      manifest,
      counting.source,
      JSON.parse(JSON.stringify(second.state)),
    );
    expect(again).toMatchObject({ rewritten: 0, kept: manifest.entries.length });
    expect(counting.asked).toEqual([]);
  });

  it('brings a tree a hostile run left back to exactly the manifest, touching nothing outside', async () => {
    const { manifest, blobs, dest } = await setup();
    const first = await syncTree(dest, manifest, blobs, null);
    const outside = path.join(base(), 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'util.py'), 'planted\n');
    const outsideBefore = listTree(outside);
    const passwd = fs.readFileSync('/etc/passwd');
    await tick(); // the run starts later than the tree was written

    const at = (p: string): string => path.join(dest, p);
    // in place, same size, mtime set back: only ctime tells
    const helper = fs.lstatSync(at('src/helper.py'), { bigint: true });
    fs.writeFileSync(at('src/helper.py'), 'def f(): return 2\n');
    setMtimeNs(at('src/helper.py'), helper.mtimeNs);
    expect(fs.lstatSync(at('src/helper.py'), { bigint: true }).mtimeNs).toBe(helper.mtimeNs);
    fs.appendFileSync(at('data/train.csv'), '7,8\n');
    fs.rmSync(at('notes.md'));
    fs.rmSync(at('config/a.yaml'));
    fs.symlinkSync('/etc/passwd', at('config/a.yaml'));
    fs.rmSync(at('lib'), { recursive: true });
    fs.symlinkSync(outside, at('lib')); // a folder on the way is now a link out of the tree
    fs.mkdirSync(at('src/__pycache__'));
    fs.writeFileSync(at('src/__pycache__/x.cpython-312.pyc'), 'bytecode');
    fs.mkdirSync(at('.git/hooks'), { recursive: true });
    fs.writeFileSync(at('.git/hooks/pre-commit'), '#!/bin/sh\ncurl evil\n', { mode: 0o755 });
    fs.writeFileSync(at('.hidden'), 'x');
    execFileSync('mkfifo', [at('data/pipe')]);
    fs.chmodSync(at('run.sh'), 0o644);
    fs.chmodSync(at('secret.env'), 0o4600); // setuid: ctime moves too
    fs.rmSync(at('link.md'));
    fs.writeFileSync(at('link.md'), 'a file where a link was');
    fs.rmSync(at('src/model.py'));
    fs.mkdirSync(at('src/model.py/sub'), { recursive: true }); // a folder where a file was
    fs.writeFileSync(at('src/model.py/sub/x'), 'x');
    fs.linkSync(at('train.ipynb'), path.join(outside, 'hard-link')); // a second link, from outside
    fs.writeFileSync(Buffer.from(`${dest}/caf\xe9.txt`, 'latin1'), 'not utf-8');
    fs.mkdirSync(at('empty/deeper'), { recursive: true });
    fs.mkdirSync(at('locked/inner'), { recursive: true });
    fs.writeFileSync(at('locked/inner/f'), 'f');
    fs.chmodSync(at('locked/inner'), 0o000);
    fs.chmodSync(at('locked'), 0o000);
    fs.chmodSync(at('data'), 0o555); // a folder the sync writes into, made read-only
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(at('src/deep/sock'), resolve));
    const outsideHardLink = listTree(outside);

    try {
      const counting = asking(blobs);
      const second = await syncTree(dest, manifest, counting.source, first.state);
      expect(listTree(dest)).toEqual(await fresh(manifest, blobs));
      const rewritten = [
        'config/a.yaml',
        'data/train.csv',
        'lib/util.py',
        'link.md',
        'notes.md',
        'run.sh',
        'secret.env',
        'src/helper.py',
        'src/model.py',
        'train.ipynb',
      ];
      const kept = manifest.entries.map((e) => e.path).filter((p) => !rewritten.includes(p));
      expect(second).toMatchObject({ rewritten: rewritten.length, kept: kept.length });
      // blobs asked for exactly the rewritten files (link.md is a symlink: no blob)
      const digests = manifest.entries
        .filter((e): e is FileEntry => e.type === 'file' && rewritten.includes(e.path))
        .map((e) => e.sha256);
      expect([...counting.asked].sort()).toEqual([...new Set(digests)].sort());
      // lib (a link), __pycache__ and its file, .git/hooks/pre-commit (3), .hidden, the FIFO,
      // the folder src/model.py (3), the odd name, empty/deeper (2), locked/inner/f (3), the socket
      expect(second.removed).toBe(18);
      // nothing outside the tree changed: not the folder a link pointed to, not the file a link
      // outside shares with the old train.ipynb, not /etc/passwd
      expect(listTree(outside)).toEqual(outsideHardLink);
      expect(outsideHardLink).toEqual({
        ...outsideBefore,
        'hard-link': `file 644 ${sha(FILES['train.ipynb'])}`,
      });
      expect(fs.readFileSync('/etc/passwd')).toEqual(passwd);
      expect(fs.lstatSync(at('train.ipynb')).ino).not.toBe(
        fs.lstatSync(path.join(outside, 'hard-link')).ino,
      );

      const third = await syncTree(dest, manifest, blobs, second.state);
      expect(third).toMatchObject({ rewritten: 0, removed: 0, kept: manifest.entries.length });
    } finally {
      server.close();
    }
  });

  it('rewrites only what a new manifest changes, and removes what it drops', async () => {
    const { manifest, blobs, dest } = await setup();
    const first = await syncTree(dest, manifest, blobs, null);
    const next = createManifest([
      ...manifest.entries.filter((e) => e.path !== 'data/train.csv' && !e.path.startsWith('src/')),
      file('data/train.csv', 'x,y\n9,9\n'),
    ]);
    await blobs.put(writeTemp('x,y\n9,9\n'));
    const before = inodes(dest, next);
    const counting = asking(blobs);
    const second = await syncTree(dest, next, counting.source, first.state);
    expect(second).toMatchObject({ rewritten: 1, kept: next.entries.length - 1 });
    expect(second.removed).toBe(6); // src/, its 3 files, src/deep/, src/deep/a/
    expect(counting.asked).toEqual([sha('x,y\n9,9\n')]);
    const after = inodes(dest, next);
    for (const entry of next.entries) {
      if (entry.path === 'data/train.csv') {
        expect(after[entry.path]).not.toEqual(before[entry.path]);
      } else {
        expect(after[entry.path]).toEqual(before[entry.path]);
      }
    }
    expect(listTree(dest)).toEqual(await fresh(next, blobs));
  });

  it('lets what a run wrote be kept when it comes back in the next manifest (treeStateAfter)', async () => {
    const { manifest, blobs, dest } = await setup();
    const first = await syncTree(dest, manifest, blobs, null);
    await tick();
    const at = (p: string): string => path.join(dest, p);
    fs.mkdirSync(at('model'));
    fs.writeFileSync(at('model/out.bin'), 'weights');
    fs.writeFileSync(at('data/train.csv.tmp'), 'x,y\n0,0\n');
    fs.renameSync(at('data/train.csv.tmp'), at('data/train.csv'));
    const notes = fs.lstatSync(at('notes.md'));
    fs.utimesSync(at('notes.md'), notes.atime, new Date()); // touched, not changed
    fs.mkdirSync(at('__pycache__'));
    fs.writeFileSync(at('__pycache__/m.pyc'), 'bytecode');
    fs.rmSync(at('config/a.yaml'));

    const changes = await workspaceChanges(dest, manifest, treeWrittenStats(first.state));
    expect(changes.changed.map((e) => e.path)).toEqual(['data/train.csv', 'model/out.bin']);
    const after = await treeStateAfter(dest, first.state, changes);
    expect(after.entries['model/out.bin']).toMatchObject({ type: 'file', sha256: sha('weights') });
    expect(after.entries['data/train.csv']).toMatchObject({ sha256: sha('x,y\n0,0\n') });
    expect(after.entries['src/helper.py']).toEqual(first.state.entries['src/helper.py']);
    expect(after.entries['link.md']).toEqual({ type: 'symlink', target: 'notes.md' });
    expect(Object.keys(after.entries)).not.toContain('notes.md'); // stat moved: unknown
    expect(Object.keys(after.entries)).not.toContain('config/a.yaml');
    expect(Object.keys(after.entries)).not.toContain('__pycache__/m.pyc');

    // The caller got the outputs back and sends them with the next run.
    const outputs = new Map(changes.changed.map((e) => [e.path, e]));
    const next = createManifest([
      ...manifest.entries.filter((e) => !outputs.has(e.path) && !changes.deleted.includes(e.path)),
      ...outputs.values(),
    ]);
    await blobs.put(at('model/out.bin'));
    await blobs.put(at('data/train.csv'));
    const counting = asking(blobs);
    const second = await syncTree(dest, next, counting.source, after);
    expect(counting.asked).toEqual([sha(FILES['notes.md'])]);
    // __pycache__ and its file, and config/, which no entry of the new manifest lies in
    expect(second).toMatchObject({ rewritten: 1, removed: 3, kept: next.entries.length - 1 });
    expect(listTree(dest)).toEqual(await fresh(next, blobs));
  });

  it('makes a real folder of a dest that is a symlink, never writing through it', async () => {
    const { manifest, blobs } = await setup();
    const target = path.join(base(), 'elsewhere');
    fs.mkdirSync(target);
    const dest = path.join(base(), 'tree');
    fs.symlinkSync(target, dest);
    await syncTree(dest, manifest, blobs, null);
    expect(fs.lstatSync(dest).isDirectory()).toBe(true);
    expect(fs.readdirSync(target)).toEqual([]);
    expect(listTree(dest)).toEqual(await fresh(manifest, blobs));
  });
});

/** Sets a file's mtime to the nanosecond, as `utimensat(2)` can (Node's utimes rounds). */
function setMtimeNs(file: string, ns: bigint): void {
  const seconds = ns / 1_000_000_000n;
  const rest = (ns % 1_000_000_000n).toString().padStart(9, '0');
  execFileSync('touch', ['-m', '-d', `@${seconds}.${rest}`, file]);
}

function writeTemp(content: string): string {
  const file = path.join(base(), `blob-${Math.random().toString(16).slice(2)}`);
  fs.writeFileSync(file, content);
  return file;
}

describe('syncTree: 10,000 files (measured, not asserted)', () => {
  it('writes them once, then re-syncs an unchanged tree', async () => {
    const store = path.join(base(), 'store');
    fs.mkdirSync(store);
    const files = new Map<string, string>();
    const entries: ManifestEntry[] = [];
    for (let i = 0; i < 10_000; i++) {
      const content = `file ${i}\n`.repeat(1 + (i % 20));
      const digest = sha(content);
      fs.writeFileSync(path.join(store, digest), content);
      files.set(digest, path.join(store, digest));
      entries.push(file(`pkg${i % 50}/sub${i % 7}/f${i}.py`, content));
    }
    const blobs: BlobSource = { path: (digest) => files.get(digest) ?? null };
    const manifest = createManifest(entries);
    const dest = path.join(base(), 'tree');

    let t = performance.now();
    const first = await syncTree(dest, manifest, blobs, null);
    const firstMs = performance.now() - t;
    const resyncs: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      const again = await syncTree(dest, manifest, blobs, first.state);
      resyncs.push(performance.now() - t);
      expect(again).toMatchObject({ rewritten: 0, removed: 0, kept: 10_000 });
    }
    t = performance.now();
    await materialize(manifest, path.join(base(), 'materialized'), blobs);
    const materializeMs = performance.now() - t;
    resyncs.sort((a, b) => a - b);
    console.log(
      `syncTree, 10,000 files: first ${firstMs.toFixed(0)} ms; unchanged re-sync median ` +
        `${resyncs[2].toFixed(0)} ms (min ${resyncs[0].toFixed(0)}, max ${resyncs[4].toFixed(0)}); ` +
        `materialize ${materializeMs.toFixed(0)} ms`,
    );
  });
});
