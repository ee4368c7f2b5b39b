/**
 * BlobDir, the content-addressed folder workspace blobs and artifacts share: content stored
 * once under its sha256, checked against the announced digest on arrival, nothing stored on a
 * mismatch or past the size limit.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  DigestMismatchError,
  PayloadTooLargeError,
  ValidationError,
} from '../../../pipelines/errors';
import { BlobDir } from '../../../pipelines/workspace';
import { ArtifactStore } from '../../../server/store/artifact-store';
import { useTempDir } from '../../helpers/temp-dirs';

const dir = useTempDir();

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file under `root`, relative. */
function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) {
    return [];
  }
  return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

describe('BlobDir', () => {
  it('stores a file and a stream under sha256/<2>/<62>, read-only, once', async () => {
    const blobs = new BlobDir(path.join(dir(), 'blobs'));
    const src = path.join(dir(), 'data.csv');
    fs.writeFileSync(src, 'a,b\n1,2\n');
    const digest = sha('a,b\n1,2\n');
    expect(blobs.has(digest)).toBe(false);
    expect(blobs.path(digest)).toBeNull();
    expect(await blobs.put(src)).toEqual({ sha256: digest, size: 8 });
    expect(blobs.path(digest)).toBe(
      path.join(blobs.root, 'sha256', digest.slice(0, 2), digest.slice(2)),
    );
    expect(fs.statSync(blobs.pathOf(digest)).mode & 0o777).toBe(0o444);
    const streamed = await blobs.put(
      Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]),
      digest,
    );
    expect(streamed).toEqual({ sha256: digest, size: 8 });
    expect(filesUnder(blobs.root)).toEqual([
      path.join('sha256', digest.slice(0, 2), digest.slice(2)),
    ]);
    expect(blobs.has('not-a-digest')).toBe(false);
  });

  it('refuses content whose digest is not the announced one, naming both, storing nothing', async () => {
    const blobs = new BlobDir(path.join(dir(), 'blobs'));
    const announced = sha('what the client said');
    for (const source of [Readable.from([Buffer.from('what arrived')]), path.join(dir(), 'f')]) {
      fs.writeFileSync(path.join(dir(), 'f'), 'what arrived');
      const err = await blobs.put(source, announced).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DigestMismatchError);
      const mismatch = err as DigestMismatchError;
      expect(mismatch.field).toBe('sha256');
      expect(mismatch.status).toBe(400);
      expect(mismatch.message).toContain(announced);
      expect(mismatch.message).toContain(sha('what arrived'));
      expect(filesUnder(blobs.root)).toEqual([]);
    }
    await expect(blobs.put(Readable.from([Buffer.from('x')]), 'ABC')).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('refuses a stream past maxBytes, storing nothing', async () => {
    const blobs = new BlobDir(path.join(dir(), 'blobs'));
    const chunks = [Buffer.alloc(600, 1), Buffer.alloc(600, 2)];
    const err = await blobs
      .put(Readable.from(chunks), undefined, { maxBytes: 1000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(filesUnder(blobs.root)).toEqual([]);
  });

  it('is the folder of the artifact store: an artifact is a blob and the other way round', async () => {
    const home = path.join(dir(), 'artifacts');
    const artifacts = new ArtifactStore(home);
    const src = path.join(dir(), 'model.json');
    fs.writeFileSync(src, '{"w":[1,2]}');
    const stored = await artifacts.put(src);
    expect(new BlobDir(home).path(stored.sha256)).toBe(artifacts.find(stored.sha256));
    const blob = await artifacts.blobs.put(Readable.from([Buffer.from('from a workspace')]));
    expect(artifacts.find(blob.sha256)).toBe(artifacts.blobs.pathOf(blob.sha256));
  });
});
