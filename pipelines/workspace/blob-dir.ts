/**
 * Content stored by its sha256 in a folder: `<root>/sha256/<2 hex>/<62 hex>`, the layout of the
 * service's artifacts (whose store is built on this class), so workspace blobs and artifacts
 * share one store and one copy of each content. Content arrives under `<root>/tmp/`, is hashed
 * on the way, checked against the digest it was announced with, flushed, made read-only and
 * renamed into place: a stored blob is always whole and always what its name says.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { DigestMismatchError, PayloadTooLargeError, ValidationError } from '../errors';
import { formatLimit } from '../executor/output-limits';
import { sha256File } from './hasher';

const SHA256 = /^[0-9a-f]{64}$/;

/** Where the content of a digest can be read on this host. */
export interface BlobSource {
  /** A local file holding the content with this sha256, or null when there is none. */
  path(sha256: string): string | null;
}

/** What {@link BlobDir.put} stored (or found already stored). */
export interface StoredBlob {
  readonly sha256: string;
  readonly size: number;
}

/** Options of {@link BlobDir.put}. */
export interface PutOptions {
  /** The most bytes accepted; past it the upload fails and nothing is stored. */
  readonly maxBytes?: number;
}

/** A content-addressed folder of blobs, read-only files named by their sha256. */
export class BlobDir implements BlobSource {
  /**
   * @param root - the folder (`<home>/artifacts` on the service, a cache folder on a worker)
   */
  constructor(readonly root: string) {}

  /** Where the content with this sha256 lives (whether or not it is there). */
  pathOf(sha256: string): string {
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256.slice(2));
  }

  /** Whether content with this sha256 is stored (false for a string that is not a sha256). */
  has(sha256: string): boolean {
    return this.path(sha256) !== null;
  }

  /** The file of stored content, or null when it is not stored (or `sha256` is not a hash). */
  path(sha256: string): string | null {
    if (!SHA256.test(sha256)) {
      return null;
    }
    const file = this.pathOf(sha256);
    return existsSync(file) ? file : null;
  }

  /**
   * Stores content: a local file (read once to hash it, a second time only when it is new) or a
   * stream (an upload), and returns its sha256 and size. Content already stored is not written
   * again. With `expectedSha256`, content whose digest differs is refused and nothing is stored.
   *
   * @throws ValidationError (field `sha256`) for an `expectedSha256` that is not a sha256;
   *   DigestMismatchError naming both digests; PayloadTooLargeError past `maxBytes`
   */
  async put(
    source: string | AsyncIterable<Uint8Array>,
    expectedSha256?: string,
    options: PutOptions = {},
  ): Promise<StoredBlob> {
    if (expectedSha256 !== undefined && !SHA256.test(expectedSha256)) {
      throw new ValidationError(
        'sha256',
        `sha256: ${JSON.stringify(expectedSha256)} is not 64 lowercase hex digits`,
      );
    }
    if (typeof source === 'string') {
      const known = await sha256File(source);
      if (expectedSha256 !== undefined && known.sha256 !== expectedSha256) {
        throw new DigestMismatchError(expectedSha256, known.sha256);
      }
      if (options.maxBytes !== undefined && known.size > options.maxBytes) {
        throw tooLarge(options.maxBytes);
      }
      if (this.has(known.sha256)) {
        return known;
      }
      return this.copyIn(createReadStream(source), expectedSha256, options.maxBytes);
    }
    return this.copyIn(source, expectedSha256, options.maxBytes);
  }

  /** Writes a stream under a temporary name while hashing it, then renames it into place. */
  private async copyIn(
    source: AsyncIterable<Uint8Array>,
    expected: string | undefined,
    maxBytes: number | undefined,
  ): Promise<StoredBlob> {
    const tmpDir = path.join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const temp = path.join(tmpDir, `${process.pid}.${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await open(temp, 'wx');
    try {
      try {
        for await (const chunk of source) {
          size += chunk.length;
          if (maxBytes !== undefined && size > maxBytes) {
            throw tooLarge(maxBytes);
          }
          hash.update(chunk);
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha256 = hash.digest('hex');
      if (expected !== undefined && sha256 !== expected) {
        throw new DigestMismatchError(expected, sha256);
      }
      const target = this.pathOf(sha256);
      if (existsSync(target)) {
        await unlink(temp);
      } else {
        await chmod(temp, 0o444);
        await mkdir(path.dirname(target), { recursive: true });
        await rename(temp, target);
      }
      return { sha256, size };
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }
}

function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `the content is larger than ${formatLimit(maxBytes)}, the most accepted; nothing was stored`,
  );
}
