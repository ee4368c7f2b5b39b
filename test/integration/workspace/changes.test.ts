/**
 * workspaceChanges and writeBack on a real filesystem: what a run created, changed in place,
 * replaced by rename, turned into a symlink or deleted under its copy, with the kernel's
 * `__pycache__` left behind and `--outputs` globs narrowing; then those outputs written into the
 * caller's root atomically, links as links, never outside the root, deleted files only listed.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  BlobDir,
  materialize,
  scanWorkspace,
  workspaceChanges,
  writeBack,
  type ManifestEntry,
  type WorkspaceChanges,
} from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';
import { countingHasher, tick, writeTree } from './tree';

const dir = useTempDir();

function sha(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A caller's workspace, scanned into a BlobDir, and a run's copy materialized from it: what a
 * worker holds when the kernel starts.
 */
async function runCopy(files: Record<string, string>) {
  const base = fs.realpathSync(dir());
  const caller = path.join(base, 'caller');
  writeTree(caller, files);
  const scan = await scanWorkspace(caller, { cacheDir: null });
  const blobs = new BlobDir(path.join(base, 'blobs'));
  for (const entry of scan.manifest.entries) {
    if (entry.type === 'file') {
      await blobs.put(path.join(caller, entry.path), entry.sha256);
    }
  }
  const copy = path.join(base, 'copy');
  const { written } = await materialize(scan.manifest, copy, blobs);
  await tick(); // the run starts later than the copy was written
  return { base, caller, copy, blobs, manifest: scan.manifest, written };
}

/** Stores the changed files' content in `blobs`, as a worker does before sending outputs back. */
async function storeOutputs(
  copy: string,
  changes: WorkspaceChanges,
  blobs: BlobDir,
): Promise<void> {
  for (const entry of changes.changed) {
    if (entry.type === 'file') {
      await blobs.put(path.join(copy, entry.path), entry.sha256);
    }
  }
}

const FILES = {
  'train.ipynb': '{}',
  'data/train.csv': 'x,y\n1,2\n',
  'model/model.json': '{"w":0}',
  'src/helper.py': 'def f(): return 1\n',
  'notes.md': 'notes\n',
  'old.log': 'old\n',
};

describe('workspaceChanges', () => {
  it('finds files created, changed in place, replaced by rename, made links, and deleted', async () => {
    const { copy, manifest, written } = await runCopy(FILES);
    fs.writeFileSync(path.join(copy, 'model/model.json'), '{"w":1}'); // in place, same size
    fs.writeFileSync(path.join(copy, 'data/train.csv.tmp'), 'x,y\n3,4\n5,6\n');
    fs.renameSync(path.join(copy, 'data/train.csv.tmp'), path.join(copy, 'data/train.csv'));
    fs.mkdirSync(path.join(copy, 'reports'));
    fs.writeFileSync(path.join(copy, 'reports/card.md'), '# card\n');
    fs.rmSync(path.join(copy, 'old.log'));
    fs.rmSync(path.join(copy, 'notes.md'));
    fs.symlinkSync('reports/card.md', path.join(copy, 'notes.md'));
    fs.chmodSync(path.join(copy, 'src/helper.py'), 0o755);
    fs.mkdirSync(path.join(copy, 'src/__pycache__'));
    fs.writeFileSync(path.join(copy, 'src/__pycache__/helper.cpython-312.pyc'), 'bytecode');
    fs.mkdirSync(path.join(copy, '.ipynb_checkpoints'));
    fs.writeFileSync(path.join(copy, '.ipynb_checkpoints/train-checkpoint.ipynb'), '{}');

    const changes = await workspaceChanges(copy, manifest, written);
    const expected: ManifestEntry[] = [
      {
        path: 'data/train.csv',
        type: 'file',
        sha256: sha('x,y\n3,4\n5,6\n'),
        size: 12,
        mode: 0o644,
      },
      { path: 'model/model.json', type: 'file', sha256: sha('{"w":1}'), size: 7, mode: 0o644 },
      { path: 'notes.md', type: 'symlink', target: 'reports/card.md' },
      { path: 'reports/card.md', type: 'file', sha256: sha('# card\n'), size: 7, mode: 0o644 },
      {
        path: 'src/helper.py',
        type: 'file',
        sha256: sha('def f(): return 1\n'),
        size: 18,
        mode: 0o755,
      },
    ];
    expect(changes.changed).toEqual(expected);
    expect(changes.deleted).toEqual(['old.log']);
  });

  it('hashes only the files whose stat changed', async () => {
    const { copy, manifest, written } = await runCopy(FILES);
    fs.writeFileSync(path.join(copy, 'model/model.json'), '{"w":2}');
    const counter = countingHasher();
    const changes = await workspaceChanges(copy, manifest, written, { hashFile: counter.hashFile });
    expect(counter.files).toEqual([path.join(copy, 'model/model.json')]);
    expect(changes.changed.map((e) => e.path)).toEqual(['model/model.json']);
  });

  it('reports nothing for a file rewritten with the same content, or touched', async () => {
    const { copy, manifest, written } = await runCopy(FILES);
    fs.writeFileSync(path.join(copy, 'data/train.csv'), 'x,y\n1,2\n');
    const now = new Date();
    fs.utimesSync(path.join(copy, 'notes.md'), now, now);
    const changes = await workspaceChanges(copy, manifest, written);
    expect(changes).toMatchObject({ changed: [], deleted: [], notes: [] });
    // What the walk saw, for the kept tree's state: every file, with its lstat.
    expect(changes.seen?.get('notes.md')).toMatchObject({
      size: fs.lstatSync(path.join(copy, 'notes.md')).size,
      ino: fs.lstatSync(path.join(copy, 'notes.md')).ino,
    });
  });

  it('narrows to --outputs globs, deleted paths too', async () => {
    const { copy, manifest, written } = await runCopy(FILES);
    fs.writeFileSync(path.join(copy, 'model/model.json'), '{"w":3}');
    fs.writeFileSync(path.join(copy, 'model/extra.bin'), 'bin');
    fs.writeFileSync(path.join(copy, 'scratch.txt'), 'x');
    fs.rmSync(path.join(copy, 'old.log'));
    fs.rmSync(path.join(copy, 'notes.md'));
    const changes = await workspaceChanges(copy, manifest, written, {
      outputs: ['model/**', '!*.bin', 'notes.md'],
    });
    expect(changes.changed.map((e) => e.path)).toEqual(['model/model.json']);
    expect(changes.deleted).toEqual(['notes.md']);
  });

  it('skips a name that is not valid UTF-8 with a note, and still returns the rest', async () => {
    const { copy, manifest, written } = await runCopy(FILES);
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(copy, 'r')), Buffer.from([0xff])]), 'x');
    fs.writeFileSync(path.join(copy, 'ok.txt'), 'ok');
    const changes = await workspaceChanges(copy, manifest, written);
    expect(changes.changed.map((e) => e.path)).toEqual(['ok.txt']);
    expect(changes.notes).toEqual(['skipped r\\xff: has a name that is not valid UTF-8']);
  });
});

describe('writeBack', () => {
  it('writes the outputs into the caller root atomically, links as links, deleted only listed', async () => {
    const { caller, copy, blobs, manifest, written } = await runCopy(FILES);
    fs.writeFileSync(path.join(copy, 'model/model.json'), '{"w":42}');
    fs.mkdirSync(path.join(copy, 'reports/html'), { recursive: true });
    fs.writeFileSync(path.join(copy, 'reports/html/index.html'), '<p>ok</p>');
    fs.chmodSync(path.join(copy, 'reports/html/index.html'), 0o640);
    fs.symlinkSync('../model/model.json', path.join(copy, 'reports/latest.json'));
    fs.rmSync(path.join(copy, 'old.log'));
    const changes = await workspaceChanges(copy, manifest, written);
    await storeOutputs(copy, changes, blobs);

    // A reader holding the old model open, and a hard link to it elsewhere, keep the old bytes:
    // the new file was renamed into place, not written into the old one.
    const model = path.join(caller, 'model/model.json');
    const keep = path.join(dir(), 'keep.json');
    fs.linkSync(model, keep);
    const oldIno = fs.statSync(model).ino;
    const reader = fs.openSync(model, 'r');
    try {
      const result = await writeBack(caller, changes, blobs);
      expect(result).toEqual({
        written: ['model/model.json', 'reports/html/index.html', 'reports/latest.json'],
        deleted: ['old.log'],
        refused: [],
      });
      const old = Buffer.alloc(16);
      expect(old.toString('utf8', 0, fs.readSync(reader, old, 0, 16, 0))).toBe('{"w":0}');
    } finally {
      fs.closeSync(reader);
    }
    expect(fs.readFileSync(model, 'utf8')).toBe('{"w":42}');
    expect(fs.statSync(model).ino).not.toBe(oldIno);
    expect(fs.readFileSync(keep, 'utf8')).toBe('{"w":0}');
    expect(fs.statSync(path.join(caller, 'reports/html/index.html')).mode & 0o777).toBe(0o640);
    expect(fs.readlinkSync(path.join(caller, 'reports/latest.json'))).toBe('../model/model.json');
    expect(fs.readFileSync(path.join(caller, 'old.log'), 'utf8')).toBe('old\n'); // not deleted
    const leftovers = fs
      .readdirSync(caller, { recursive: true })
      .map(String)
      .filter((p) => p.includes('.nbstage-tmp-'));
    expect(leftovers).toEqual([]);
  });

  it('never writes outside the root: not through a symlink in the caller root, not into .git', async () => {
    const { base, caller, copy, blobs, manifest, written } = await runCopy(FILES);
    const outside = path.join(base, 'outside');
    fs.mkdirSync(outside);
    // In the caller's root, `out` is a link out of the root; the run made a real folder there.
    fs.symlinkSync(outside, path.join(caller, 'out'));
    fs.mkdirSync(path.join(copy, 'out'));
    fs.writeFileSync(path.join(copy, 'out/result.txt'), 'result');
    fs.writeFileSync(path.join(copy, 'fine.txt'), 'fine');
    const changes = await workspaceChanges(copy, manifest, written);
    await storeOutputs(copy, changes, blobs);
    const forged: WorkspaceChanges = {
      changed: [
        ...changes.changed,
        { path: '../escaped.txt', type: 'file', sha256: sha('fine'), size: 4, mode: 0o644 },
        { path: '/tmp/abs.txt', type: 'file', sha256: sha('fine'), size: 4, mode: 0o644 },
        {
          path: '.git/hooks/post-checkout',
          type: 'file',
          sha256: sha('fine'),
          size: 4,
          mode: 0o755,
        },
        { path: 'link', type: 'symlink', target: outside },
        { path: 'link/inside.txt', type: 'file', sha256: sha('fine'), size: 4, mode: 0o644 },
      ],
      deleted: [],
      notes: [],
    };
    const result = await writeBack(caller, forged, blobs);
    expect(result.written).toEqual(['fine.txt', 'link']);
    expect(result.refused.map((r) => r.path)).toEqual([
      '../escaped.txt',
      '.git/hooks/post-checkout',
      '/tmp/abs.txt',
      'link/inside.txt',
      'out/result.txt',
    ]);
    expect(result.refused.find((r) => r.path === 'out/result.txt')?.reason).toContain(
      'out is a symlink',
    );
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(base, 'escaped.txt'))).toBe(false);
    expect(fs.existsSync(path.join(caller, '.git'))).toBe(false);
    expect(fs.readlinkSync(path.join(caller, 'link'))).toBe(outside); // recreated as the link
  });

  it('replaces a symlink at an output path with the file, leaving its target alone', async () => {
    const { base, caller, copy, blobs, manifest, written } = await runCopy(FILES);
    const target = path.join(base, 'shared-report.md');
    fs.writeFileSync(target, 'shared');
    fs.symlinkSync(target, path.join(caller, 'report.md'));
    fs.writeFileSync(path.join(copy, 'report.md'), 'from the run');
    const changes = await workspaceChanges(copy, manifest, written);
    await storeOutputs(copy, changes, blobs);
    const result = await writeBack(caller, changes, blobs);
    expect(result.written).toEqual(['report.md']);
    expect(fs.lstatSync(path.join(caller, 'report.md')).isFile()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe('shared');
  });

  it('refuses an output whose content is missing or whose path is a folder in the caller root', async () => {
    const { caller, blobs } = await runCopy(FILES);
    fs.mkdirSync(path.join(caller, 'taken'));
    const result = await writeBack(
      caller,
      {
        changed: [
          { path: 'nowhere.txt', type: 'file', sha256: sha('never stored'), size: 1, mode: 0o644 },
          { path: 'taken', type: 'file', sha256: sha('{}'), size: 2, mode: 0o644 },
        ],
        deleted: [],
      },
      blobs,
    );
    expect(result.written).toEqual([]);
    expect(result.refused).toEqual([
      { path: 'nowhere.txt', reason: `its content (sha256 ${sha('never stored')}) is missing` },
      { path: 'taken', reason: 'taken is a folder here' },
    ]);
  });
});
