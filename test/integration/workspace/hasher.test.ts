/**
 * hashRegularFile, the hasher of scans: the right sha256 on both sides of the small-file size,
 * never the bytes of a symlink's target, never stuck on a FIFO.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkspaceError } from '../../../pipelines/errors';
import { hashRegularFile, sha256File } from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';

const dir = useTempDir();
const MIB = 1024 * 1024;

describe('hashRegularFile', () => {
  it.each([0, 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 17])(
    'hashes a file of %i bytes',
    async (size) => {
      const file = path.join(dir(), 'f.bin');
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) {
        data[i] = (i * 31) & 0xff;
      }
      fs.writeFileSync(file, data);
      const expected = createHash('sha256').update(data).digest('hex');
      expect(await hashRegularFile(file, size)).toEqual({ sha256: expected, size });
      expect(await sha256File(file)).toEqual({ sha256: expected, size });
    },
  );

  it('refuses a symlink (one swapped in after the walk) without reading its target', async () => {
    const target = path.join(dir(), 'secret');
    fs.writeFileSync(target, 'outside');
    fs.symlinkSync(target, path.join(dir(), 'link'));
    await expect(hashRegularFile(path.join(dir(), 'link'), 7)).rejects.toMatchObject({
      code: 'ELOOP',
    });
  });

  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    const fifo = path.join(dir(), 'pipe');
    execFileSync('mkfifo', [fifo]);
    await expect(hashRegularFile(fifo, 0)).rejects.toBeInstanceOf(WorkspaceError);
  });
});
