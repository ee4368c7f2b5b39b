/**
 * materialize on a real filesystem: a manifest written as copies (modes kept) or as hard links
 * (where the blob's mode is the recorded one, copies elsewhere and across devices), symlinks as
 * recorded, and nothing ever written outside the folder, also not through a symlink.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError, WorkspaceError } from '../../../pipelines/errors';
import {
  BlobDir,
  createManifest,
  materialize,
  type BlobSource,
  type Manifest,
  type ManifestEntry,
} from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';

const dir = useTempDir();

function sha(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

function fileEntry(p: string, content: string, mode = 0o644): ManifestEntry {
  return { path: p, type: 'file', sha256: sha(content), size: Buffer.byteLength(content), mode };
}

/** A BlobDir holding `contents`. */
async function blobDir(contents: string[]): Promise<BlobDir> {
  const blobs = new BlobDir(path.join(dir(), 'blobs'));
  for (const content of contents) {
    const src = path.join(dir(), 'src.tmp');
    fs.writeFileSync(src, content);
    await blobs.put(src);
  }
  return blobs;
}

/** A BlobSource of plain files in `folder`, each with the given mode (a worker's own cache). */
function plainBlobs(folder: string, contents: Record<string, number>): BlobSource {
  fs.mkdirSync(folder, { recursive: true });
  const files = new Map<string, string>();
  for (const [content, mode] of Object.entries(contents)) {
    const file = path.join(folder, sha(content));
    fs.writeFileSync(file, content);
    fs.chmodSync(file, mode);
    files.set(sha(content), file);
  }
  return { path: (digest) => files.get(digest) ?? null };
}

const MANIFEST: Manifest = createManifest([
  fileEntry('train.ipynb', '{}'),
  fileEntry('bin/run.sh', '#!/bin/sh\necho hi\n', 0o755),
  fileEntry('config/secret.yaml', 'k: v\n', 0o600),
  fileEntry('data/a.csv', '1,2\n'),
  fileEntry('data/same-as-a.csv', '1,2\n'),
  { path: 'datasets', type: 'symlink', target: '/mnt/datasets' },
  { path: 'data/alias.csv', type: 'symlink', target: 'a.csv' },
]);
const CONTENTS = ['{}', '#!/bin/sh\necho hi\n', 'k: v\n', '1,2\n'];

describe('materialize', () => {
  it('writes copies with the recorded modes, symlinks as recorded, and returns their stat', async () => {
    const blobs = await blobDir(CONTENTS);
    const dest = path.join(dir(), 'copy');
    const result = await materialize(MANIFEST, dest, blobs);
    expect(result).toMatchObject({ linked: 0, copied: 5, symlinks: 2 });
    for (const entry of MANIFEST.entries) {
      const abs = path.join(dest, entry.path);
      if (entry.type === 'symlink') {
        expect(fs.readlinkSync(abs)).toBe(entry.target);
        continue;
      }
      const stats = fs.lstatSync(abs);
      expect(stats.mode & 0o777).toBe(entry.mode);
      expect(sha(fs.readFileSync(abs, 'utf8'))).toBe(entry.sha256);
      expect(stats.ino).not.toBe(fs.statSync(blobs.pathOf(entry.sha256)).ino);
      expect(result.written[entry.path]).toEqual({
        ino: stats.ino,
        size: stats.size,
        mtimeMs: stats.mtimeMs,
        ctimeMs: stats.ctimeMs,
      });
    }
    expect(Object.keys(result.written).sort()).toEqual(
      MANIFEST.entries
        .filter((e) => e.type === 'file')
        .map((e) => e.path)
        .sort(),
    );
  });

  it('links where the blob has the recorded mode, copies where it has not', async () => {
    // BlobDir blobs are read-only (0444): only a file recorded 0444 can share their inode.
    const blobs = await blobDir(['read-only\n', 'writable\n']);
    const manifest = createManifest([
      fileEntry('ro.txt', 'read-only\n', 0o444),
      fileEntry('rw.txt', 'writable\n'),
    ]);
    const dest = path.join(dir(), 'linked');
    const result = await materialize(manifest, dest, blobs, { strategy: 'link' });
    expect(result).toMatchObject({ linked: 1, copied: 1 });
    expect(fs.statSync(path.join(dest, 'ro.txt')).ino).toBe(
      fs.statSync(blobs.pathOf(sha('read-only\n'))).ino,
    );
    expect(fs.statSync(path.join(dest, 'rw.txt')).ino).not.toBe(
      fs.statSync(blobs.pathOf(sha('writable\n'))).ino,
    );
    expect(fs.statSync(path.join(dest, 'rw.txt')).mode & 0o777).toBe(0o644);

    // A source whose files carry the recorded modes is linked throughout.
    const own = plainBlobs(path.join(dir(), 'cache'), {
      '{}': 0o644,
      '#!/bin/sh\necho hi\n': 0o755,
      'k: v\n': 0o600,
      '1,2\n': 0o644,
    });
    const all = await materialize(MANIFEST, path.join(dir(), 'all-linked'), own, {
      strategy: 'link',
    });
    expect(all).toMatchObject({ linked: 5, copied: 0 });
    expect(fs.statSync(path.join(dir(), 'all-linked', 'bin/run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dir(), 'all-linked', 'data/a.csv')).nlink).toBe(3); // blob + 2 paths
  });

  it('copies where no link can be made (another device)', async () => {
    const shm = '/dev/shm';
    if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(os.tmpdir()).dev) {
      return; // no second filesystem here to link across
    }
    const folder = path.join(shm, `test-${randomUUID()}`);
    try {
      const other = plainBlobs(folder, { '{}': 0o644 });
      const result = await materialize(
        createManifest([fileEntry('nb.ipynb', '{}')]),
        path.join(dir(), 'x'),
        other,
        {
          strategy: 'link',
        },
      );
      expect(result).toMatchObject({ linked: 0, copied: 1 });
      expect(fs.readFileSync(path.join(dir(), 'x', 'nb.ipynb'), 'utf8')).toBe('{}');
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('refuses a manifest that would write through one of its own symlinks, writing nothing', async () => {
    const outside = path.join(dir(), 'etc');
    fs.mkdirSync(outside);
    const blobs = await blobDir(['root:x:0:0\n']);
    const manifest = {
      version: 1,
      entries: [
        { path: 'a', type: 'symlink', target: outside },
        fileEntry('a/passwd', 'root:x:0:0\n'),
      ],
    } as Manifest;
    const dest = path.join(dir(), 'dest');
    const err = await materialize(manifest, dest, blobs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('entries/1/path');
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(dest)).toBe(false);
    const escape = { version: 1, entries: [fileEntry('../escaped', 'root:x:0:0\n')] } as Manifest;
    const up = await materialize(escape, dest, blobs).catch((e: unknown) => e);
    expect((up as ValidationError).field).toBe('entries/0/path');
    expect(fs.existsSync(path.join(dir(), 'escaped'))).toBe(false);
  });

  it('refuses to write through a symlink already in the folder, before writing any file', async () => {
    const outside = path.join(dir(), 'outside');
    fs.mkdirSync(outside);
    const dest = path.join(dir(), 'session-copy');
    fs.mkdirSync(dest);
    fs.symlinkSync(outside, path.join(dest, 'out'));
    const blobs = await blobDir(['{}', 'model']);
    const manifest = createManifest([
      fileEntry('a.ipynb', '{}'),
      fileEntry('out/model.bin', 'model'),
    ]);
    const err = await materialize(manifest, dest, blobs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as WorkspaceError).path).toBe('out/model.bin');
    expect((err as WorkspaceError).message).toContain('out is a symlink');
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(dest, 'a.ipynb'))).toBe(false);
  });

  it('replaces a symlink at a file path instead of writing through it', async () => {
    const target = path.join(dir(), 'target.txt');
    fs.writeFileSync(target, 'untouched');
    const dest = path.join(dir(), 'dest');
    fs.mkdirSync(dest);
    fs.symlinkSync(target, path.join(dest, 'notes.txt'));
    const blobs = await blobDir(['new notes']);
    await materialize(createManifest([fileEntry('notes.txt', 'new notes')]), dest, blobs);
    expect(fs.lstatSync(path.join(dest, 'notes.txt')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'notes.txt'), 'utf8')).toBe('new notes');
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched');
  });

  it('refuses content the blob source lacks, naming it, before writing anything', async () => {
    const blobs = await blobDir(['{}']);
    const dest = path.join(dir(), 'dest');
    const manifest = createManifest([
      fileEntry('a.ipynb', '{}'),
      fileEntry('data/missing.csv', 'never stored'),
    ]);
    const err = await materialize(manifest, dest, blobs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).message).toContain('data/missing.csv');
    expect(fs.existsSync(dest)).toBe(false);
  });
});
