/**
 * The artifacts a notebook writes into `$NBSTAGE_ARTIFACTS`, stored beside the history by
 * content: `<home>/artifacts/sha256/<2 hex>/<62 hex>`. The same content is stored once. A file
 * is copied to a temporary name, flushed, then renamed into place, so a stored artifact is
 * always whole; stored files are read-only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../../pipelines/errors';
import { validateArtifactName } from '../../pipelines/paths/relative-path';
import type { ArtifactInput, StoredArtifact } from './types';

const SHA256 = /^[0-9a-f]{64}$/;

// The check of an artifact's name is pure and lives in the domain; re-exported for the service.
export { validateArtifactName };

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Content-addressed artifact files under one folder. */
export class ArtifactStore {
  /**
   * @param root - the artifacts folder (`<home>/artifacts`)
   */
  constructor(readonly root: string) {}

  /** Where the content with this sha256 lives (whether or not it is there). */
  pathOf(sha256: string): string {
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256.slice(2));
  }

  /** The file of stored content, or null when it is not stored (or `sha256` is not a hash). */
  find(sha256: string): string | null {
    if (!SHA256.test(sha256)) {
      return null;
    }
    const file = this.pathOf(sha256);
    return existsSync(file) ? file : null;
  }

  /**
   * Stores one file and returns its hash and size. Content already stored is not written again.
   *
   * @throws ValidationError (field `field`) when the file cannot be read
   */
  async put(file: string, field = 'artifacts/path'): Promise<{ sha256: string; size: number }> {
    let info;
    try {
      info = await stat(file);
    } catch (err) {
      throw new ValidationError(field, `${field}: cannot read ${file}: ${(err as Error).message}`);
    }
    if (!info.isFile()) {
      throw new ValidationError(field, `${field}: ${file} is not a regular file`);
    }
    const known = await sha256OfFile(file);
    if (this.find(known) !== null) {
      return { sha256: known, size: info.size };
    }
    return this.copyIn(file);
  }

  /** Copies a file in under a temporary name while hashing it, then renames it into place. */
  private async copyIn(file: string): Promise<{ sha256: string; size: number }> {
    const tmpDir = path.join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const temp = path.join(tmpDir, `${process.pid}.${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await open(temp, 'wx');
    try {
      try {
        for await (const chunk of createReadStream(file)) {
          const data = chunk as Buffer;
          hash.update(data);
          size += data.length;
          await handle.write(data);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha256 = hash.digest('hex');
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

  /**
   * Stores a run's artifacts: names checked first (all of them, before anything is written),
   * then each file stored.
   *
   * @throws ValidationError naming the artifact's field
   */
  async putAll(artifacts: ArtifactInput[]): Promise<StoredArtifact[]> {
    const seen = new Set<string>();
    artifacts.forEach((artifact, i) => {
      validateArtifactName(artifact.name, `artifacts/${i}/name`);
      if (seen.has(artifact.name)) {
        throw new ValidationError(
          `artifacts/${i}/name`,
          `artifacts/${i}/name: ${JSON.stringify(artifact.name)} is listed twice`,
        );
      }
      seen.add(artifact.name);
    });
    const stored: StoredArtifact[] = [];
    for (const [i, artifact] of artifacts.entries()) {
      const { sha256, size } = await this.put(artifact.path, `artifacts/${i}/path`);
      stored.push({ name: artifact.name, sha256, size });
    }
    return stored;
  }
}
