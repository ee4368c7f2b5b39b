/**
 * The artifacts a notebook writes into `$NBSTAGE_ARTIFACTS`, stored beside the history by
 * content: `<home>/artifacts/sha256/<2 hex>/<62 hex>`. The same content is stored once. The
 * content-addressed folder is a {@link BlobDir} (the workspace blobs share it): a file is copied
 * to a temporary name, flushed, then renamed into place, so a stored artifact is always whole;
 * stored files are read-only.
 */
import { stat } from 'node:fs/promises';
import { ValidationError } from '../../pipelines/errors';
import { validateArtifactName } from '../../pipelines/paths/relative-path';
import { BlobDir } from '../../pipelines/workspace/blob-dir';
import type { ArtifactInput, StoredArtifact } from './types';

// The check of an artifact's name is pure and lives in the domain; re-exported for the service.
export { validateArtifactName };

/** Content-addressed artifact files under one folder. */
export class ArtifactStore {
  /** The content-addressed folder itself, which workspace blobs share. */
  readonly blobs: BlobDir;

  /**
   * @param root - the artifacts folder (`<home>/artifacts`)
   */
  constructor(readonly root: string) {
    this.blobs = new BlobDir(root);
  }

  /** Where the content with this sha256 lives (whether or not it is there). */
  pathOf(sha256: string): string {
    return this.blobs.pathOf(sha256);
  }

  /** The file of stored content, or null when it is not stored (or `sha256` is not a hash). */
  find(sha256: string): string | null {
    return this.blobs.path(sha256);
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
    return this.blobs.put(file);
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
