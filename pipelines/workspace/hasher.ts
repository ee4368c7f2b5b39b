/**
 * sha256 of files. {@link sha256File} streams any file in 1 MiB chunks (a 48 MB data file is
 * never in memory at once). {@link hashRegularFile}, what scans use, reads only the regular file
 * the walk saw: opened without following a symlink (one swapped in after the walk fails, its
 * target is never read) and without blocking on a FIFO, checked to be a regular file, read at
 * once when small and streamed when large. Scans take the hasher as an option, so a caller (or
 * a test) can wrap or replace it.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { WorkspaceError } from '../errors';
import { SMALL_FILE_BYTES } from './pool';

/** What hashing a file found: its sha256 (hex) and the bytes actually read. */
export interface FileHash {
  readonly sha256: string;
  readonly size: number;
}

/** Hashes one file; `size` is what the walk saw (a hasher may use it to choose how to read). */
export type FileHasher = (file: string, size: number) => Promise<FileHash>;

const CHUNK = 1024 * 1024;
const SMALL = SMALL_FILE_BYTES;

async function hashStream(stream: AsyncIterable<Buffer>): Promise<FileHash> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const data of stream) {
    hash.update(data);
    size += data.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** sha256 of any file (symlinks followed), streamed. */
export async function sha256File(file: string): Promise<FileHash> {
  return hashStream(createReadStream(file, { highWaterMark: CHUNK }));
}

/**
 * The default {@link FileHasher} of scans: sha256 of the regular file at `file`, never of a
 * symlink's target, never blocking on a FIFO.
 *
 * @throws WorkspaceError when `file` is no longer a regular file; the open's error (ENOENT for a
 *   file removed meanwhile, ELOOP for a symlink)
 */
export const hashRegularFile: FileHasher = async (file, size) => {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  let streamed = false;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new WorkspaceError(`workspace: ${file} is no longer a regular file`, { path: file });
    }
    if (Math.max(size, stats.size) > SMALL) {
      streamed = true;
      return await hashStream(createReadStream('', { fd, highWaterMark: CHUNK }));
    }
    const buffer = Buffer.allocUnsafe(SMALL + 1);
    let read = 0;
    for (let n = -1; n !== 0 && read < buffer.length; read += n) {
      n = readSync(fd, buffer, read, buffer.length - read, null);
    }
    if (read > SMALL) {
      // grew past the small size while read: start again as a stream
      streamed = true;
      return await hashStream(createReadStream('', { fd, highWaterMark: CHUNK, start: 0 }));
    }
    return {
      sha256: createHash('sha256').update(buffer.subarray(0, read)).digest('hex'),
      size: read,
    };
  } finally {
    if (!streamed) {
      closeSync(fd);
    }
  }
};
