/**
 * removeEntry on a real filesystem: whatever a run left, removed whole without following a link
 * out of it: folders it locked (`chmod 000`), names that are not UTF-8, a nest of folders deeper
 * than one path can name (PATH_MAX).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { removeEntry } from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';
import { listTree } from './tree';

const dir = useTempDir();

function base(): string {
  return fs.realpathSync(dir());
}

function sha(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('removeEntry', () => {
  it('removes a tree nested past PATH_MAX, with locked folders, odd names and links out', async () => {
    const top = path.join(base(), 'doomed');
    const outside = path.join(base(), 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'keep'), 'keep');
    const chain = Array.from({ length: 12 }, () => 'd'.repeat(250)).join('/'); // ~3 KB
    fs.mkdirSync(path.join(top, 'p', chain), { recursive: true });
    fs.mkdirSync(path.join(base(), 'q', chain), { recursive: true });
    fs.writeFileSync(path.join(base(), 'q', chain, 'leaf'), 'x');
    fs.renameSync(path.join(base(), 'q'), path.join(top, 'p', chain, 'q')); // now ~6 KB deep
    fs.symlinkSync(outside, path.join(top, 'link'));
    fs.writeFileSync(Buffer.from(`${top}/\xff\xfe`, 'latin1'), 'odd');
    fs.mkdirSync(path.join(top, 'locked'));
    fs.writeFileSync(path.join(top, 'locked', 'f'), 'f');
    fs.chmodSync(path.join(top, 'locked'), 0o000);
    const removed = await removeEntry(top);
    expect(fs.existsSync(top)).toBe(false);
    // top, p and its chain of 12, q and its chain of 12, leaf, link, the odd name, locked and f
    expect(removed).toBe(1 + 13 + 13 + 1 + 1 + 1 + 2);
    expect(listTree(outside)).toEqual({ keep: `file 644 ${sha('keep')}` });
  });

  it('unlinks a link, a FIFO or a file at the path itself, and counts nothing when there is none', async () => {
    const target = path.join(base(), 'target');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'keep');
    fs.symlinkSync(target, path.join(base(), 'link'));
    expect(await removeEntry(path.join(base(), 'link'))).toBe(1);
    expect(fs.readdirSync(target)).toEqual(['keep']);
    expect(await removeEntry(path.join(base(), 'link'))).toBe(0);
    execFileSync('mkfifo', [path.join(base(), 'pipe')]);
    expect(await removeEntry(path.join(base(), 'pipe'))).toBe(1);
    fs.chmodSync(path.join(target, 'keep'), 0o000);
    expect(await removeEntry(path.join(target, 'keep'))).toBe(1);
    expect(fs.readdirSync(target)).toEqual([]);
  });
});
