/**
 * scanWorkspace on a real tree: what is left out (built-in folders at any depth, .nbstageignore
 * with negation, --exclude), symlinks recorded as links and never followed, FIFOs skipped with a
 * note, names that are not UTF-8 refused, and the bounds checked before any file is read.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkspaceError, WorkspaceLimitError } from '../../../pipelines/errors';
import { hashCacheFile, scanWorkspace, type ManifestEntry } from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';
import { bytesRead, countingHasher, writeTree } from './tree';

const dir = useTempDir();

function sha(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A workspace root and a cache folder beside it (not inside). */
function setup(files: Record<string, string | Buffer>): { root: string; cacheDir: string } {
  const root = path.join(fs.realpathSync(dir()), 'ws');
  fs.mkdirSync(root);
  writeTree(root, files);
  return { root, cacheDir: path.join(fs.realpathSync(dir()), 'cache') };
}

function paths(entries: readonly ManifestEntry[]): string[] {
  return entries.map((e) => e.path);
}

describe('scanWorkspace: what travels', () => {
  it('records files by content with their modes, sorted by path', async () => {
    const { root, cacheDir } = setup({
      'train.ipynb': '{}',
      'src/model.py': 'x = 1\n',
      'run.sh': '#!/bin/sh\n',
    });
    fs.chmodSync(path.join(root, 'run.sh'), 0o755);
    fs.chmodSync(path.join(root, 'src/model.py'), 0o640);
    const scan = await scanWorkspace(root, { cacheDir });
    expect(scan.manifest.entries).toEqual([
      { path: 'run.sh', type: 'file', sha256: sha('#!/bin/sh\n'), size: 10, mode: 0o755 },
      { path: 'src/model.py', type: 'file', sha256: sha('x = 1\n'), size: 6, mode: 0o640 },
      { path: 'train.ipynb', type: 'file', sha256: sha('{}'), size: 2, mode: 0o644 },
    ]);
    expect(scan).toMatchObject({ root, files: 3, bytes: 18, hashed: 3 });
    expect(scan.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('leaves out the built-in folders at any depth, whatever their type', async () => {
    const { root, cacheDir } = setup({
      'keep.py': '1',
      '.git/HEAD': 'ref',
      'sub/.git': 'gitdir: /elsewhere', // a worktree's or submodule's .git file
      'sub/deeper/node_modules/p/index.js': '1',
      'src/__pycache__/m.cpython-312.pyc': 'x',
      'nb/.ipynb_checkpoints/a-checkpoint.ipynb': '{}',
      '.nbstage/history.git/HEAD': 'x',
      'pkg/.venv/bin/python': 'x',
      'src/ok.py': '2',
    });
    fs.symlinkSync('/usr', path.join(root, '.venv'));
    const scan = await scanWorkspace(root, { cacheDir });
    expect(paths(scan.manifest.entries)).toEqual(['keep.py', 'src/ok.py']);
  });

  it('applies .nbstageignore (gitignore syntax, with negation) and --exclude globs', async () => {
    const { root, cacheDir } = setup({
      '.nbstageignore': '# logs but one\n*.log\n!keep.log\ndata/raw/\n/top-only.txt\n',
      'a.log': 'x',
      'deep/b.log': 'x',
      'keep.log': 'kept',
      'data/raw/huge.bin': 'x',
      'data/clean.csv': '1',
      'top-only.txt': 'x',
      'sub/top-only.txt': 'kept: the pattern is anchored at the root',
      'scratch/tmp.bin': 'x',
      'models/a.ckpt': 'x',
      'models/final.pt': 'kept',
    });
    const scan = await scanWorkspace(root, { cacheDir, exclude: ['scratch/', 'models/*.ckpt'] });
    expect(paths(scan.manifest.entries)).toEqual([
      '.nbstageignore',
      'data/clean.csv',
      'keep.log',
      'models/final.pt',
      'sub/top-only.txt',
    ]);
  });

  it('records a symlink as the link, inside or outside the root, and never reads its target', async () => {
    const outside = path.join(fs.realpathSync(dir()), 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.bin'), 'outside bytes');
    const { root, cacheDir } = setup({ 'data/local.csv': '1,2\n' });
    fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(root, 'linked.bin'));
    fs.symlinkSync(outside, path.join(root, 'datasets'));
    fs.symlinkSync('data/local.csv', path.join(root, 'alias.csv'));
    fs.symlinkSync('does/not/exist', path.join(root, 'dangling'));
    const counter = countingHasher();
    const scan = await scanWorkspace(root, { cacheDir, hashFile: counter.hashFile });
    expect(scan.manifest.entries).toEqual([
      { path: 'alias.csv', type: 'symlink', target: 'data/local.csv' },
      { path: 'dangling', type: 'symlink', target: 'does/not/exist' },
      { path: 'data/local.csv', type: 'file', sha256: sha('1,2\n'), size: 4, mode: 0o644 },
      { path: 'datasets', type: 'symlink', target: outside },
      { path: 'linked.bin', type: 'symlink', target: path.join(outside, 'secret.bin') },
    ]);
    expect(counter.files).toEqual([path.join(root, 'data/local.csv')]);
    expect(JSON.stringify(scan.manifest)).not.toContain(sha('outside bytes'));
    expect(scan.bytes).toBe(4);
  });

  it('skips a FIFO with a note, without opening it', async () => {
    const { root, cacheDir } = setup({ 'a.txt': 'a' });
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    const scan = await scanWorkspace(root, { cacheDir });
    expect(paths(scan.manifest.entries)).toEqual(['a.txt']);
    expect(scan.notes).toEqual(['skipped pipe: a FIFO (named pipe)']);
  });

  it('refuses a name that is not valid UTF-8, naming it escaped and the field workspace', async () => {
    const { root, cacheDir } = setup({ 'data/ok.csv': '1' });
    const bad = Buffer.concat([
      Buffer.from(path.join(root, 'data', 'caf')),
      Buffer.from([0xe9]),
      Buffer.from('.csv'),
    ]);
    fs.writeFileSync(bad, 'latin-1 name');
    const err = await scanWorkspace(root, { cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    const refusal = err as WorkspaceError;
    expect(refusal.field).toBe('workspace');
    expect(refusal.path).toBe('data/caf\\xe9.csv');
    expect(refusal.message).toContain('data/caf\\xe9.csv has a name that is not valid UTF-8');
    expect(refusal.exitCode).toBe(2);
    expect(refusal.code).toBe('NBSTAGE_VALIDATION');
    // left out by a pattern, it does not stop the scan
    const scan = await scanWorkspace(root, { cacheDir, exclude: ['data/caf*'] });
    expect(paths(scan.manifest.entries)).toEqual(['data/ok.csv']);
  });

  it('takes a name that holds U+FFFD itself, beside one that is not UTF-8 left out', async () => {
    // A folder whose names decode with U+FFFD is read again as bytes: the real U+FFFD travels.
    const { root, cacheDir } = setup({ 'data/\uFFFD.csv': 'replacement character' });
    fs.writeFileSync(
      Buffer.concat([Buffer.from(path.join(root, 'data', 'x')), Buffer.from([0xff])]),
      'bad',
    );
    const scan = await scanWorkspace(root, { cacheDir, exclude: ['data/x*'] });
    expect(paths(scan.manifest.entries)).toEqual(['data/\uFFFD.csv']);
    expect(scan.manifest.entries[0]).toMatchObject({ size: 'replacement character'.length });
  });

  it('refuses a name that cannot travel (a backslash, a newline)', async () => {
    const { root, cacheDir } = setup({ 'a\\b.txt': 'x' });
    const err = await scanWorkspace(root, { cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as WorkspaceError).message).toContain('must use "/" as separator');
    fs.rmSync(path.join(root, 'a\\b.txt'));
    fs.writeFileSync(path.join(root, 'a\nb'), 'x');
    const newline = await scanWorkspace(root, { cacheDir }).catch((e: unknown) => e);
    expect((newline as WorkspaceError).path).toBe('a\\x0ab');
  });
});

describe('scanWorkspace: bounds, checked before any file is read', () => {
  const MIB = 1024 * 1024;

  it('refuses a workspace over maxBytes naming the limit, the total and the largest entries', async () => {
    const { root, cacheDir } = setup({
      'data/big.bin': Buffer.alloc(8 * MIB, 1),
      'data/mid.bin': Buffer.alloc(2 * MIB, 2),
      'models/m.pt': Buffer.alloc(3 * MIB, 3),
      'notes.md': 'small',
    });
    const counter = countingHasher();
    const before = bytesRead();
    const err = await scanWorkspace(root, {
      cacheDir,
      maxBytes: 4 * MIB,
      hashFile: counter.hashFile,
    }).catch((e: unknown) => e);
    const after = bytesRead();
    expect(err).toBeInstanceOf(WorkspaceLimitError);
    const limit = err as WorkspaceLimitError;
    expect(limit.field).toBe('workspace');
    expect(limit.limit).toBe('bytes');
    expect(limit.total).toBe(13 * MIB + 5);
    expect(limit.largest.map((e) => e.path)).toEqual([
      'data/',
      'data/big.bin',
      'models/',
      'models/m.pt',
      'data/mid.bin',
    ]);
    expect(limit.message).toContain('over the limit of 4 MiB (--max-workspace)');
    expect(limit.message).toContain('data/ (10 MiB), data/big.bin (8 MiB)');
    // nothing was read: no file went to the hasher, no cache was written, and the kernel counts
    // far fewer bytes read than the 13 MiB of the files
    expect(counter.files).toEqual([]);
    expect(fs.existsSync(hashCacheFile(cacheDir, root))).toBe(false);
    if (before !== null && after !== null) {
      expect(after - before).toBeLessThan(MIB);
    }
  });

  it('refuses more files than maxFiles, naming the fullest folders', async () => {
    const files: Record<string, string> = { 'a.txt': 'a' };
    for (let i = 0; i < 30; i++) {
      files[`generated/part-${i}.csv`] = String(i);
    }
    const { root, cacheDir } = setup(files);
    const counter = countingHasher();
    const err = await scanWorkspace(root, {
      cacheDir,
      maxFiles: 10,
      hashFile: counter.hashFile,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceLimitError);
    expect((err as WorkspaceLimitError).limit).toBe('files');
    expect((err as WorkspaceLimitError).message).toContain('more than 10 files and symlinks');
    expect((err as WorkspaceLimitError).message).toContain('generated/');
    expect(counter.files).toEqual([]);
    await expect(scanWorkspace(root, { cacheDir, maxFiles: 31 })).resolves.toMatchObject({
      files: 31,
    });
  });
});
