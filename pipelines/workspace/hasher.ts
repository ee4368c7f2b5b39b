/**
 * sha256 of a file, streamed in 1 MiB chunks (a 48 MB data file is never in memory at once).
 * Scans take the hasher as an option, so a caller (or a test) can wrap or replace it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hashes one file: its sha256 (hex) and the bytes actually read. */
export type FileHasher = (file: string) => Promise<{ sha256: string; size: number }>;

const CHUNK = 1024 * 1024;

/** The default {@link FileHasher}: reads the file once, as a stream. */
export const sha256File: FileHasher = async (file) => {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
    const data = chunk as Buffer;
    hash.update(data);
    size += data.length;
  }
  return { sha256: hash.digest('hex'), size };
};
