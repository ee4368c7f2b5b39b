/**
 * Manifests by digest, once read: a manifest is content-addressed, so the one read, validated
 * and found canonical for a digest is the one every later run with that digest has. The
 * service's check before queueing, its answer to "which contents do you lack" and the worker's
 * checkout then parse and check a 10,000-entry manifest once, not at every run. Which manifests
 * had every content they list in a store is remembered per store: contents are never removed
 * from the content store, so a manifest found complete stays complete.
 */
import type { BlobSource } from '../../pipelines/workspace/blob-dir';
import { DEFAULT_MAX_WORKSPACE_FILES } from '../../pipelines/workspace/limits';
import type { FileEntry, Manifest } from '../../pipelines/workspace/manifest';

/** The most entries (over all manifests) kept unless told otherwise: four of the largest. */
export const DEFAULT_CACHED_MANIFEST_ENTRIES = 4 * DEFAULT_MAX_WORKSPACE_FILES;

/** Manifests by digest, the least recently used dropped past a number of entries in all. */
export class ManifestCache {
  // A Map keeps insertion order: the first key is the least recently used.
  private readonly byDigest = new Map<string, Manifest>();
  private readonly complete = new WeakMap<BlobSource, Set<string>>();
  private entries = 0;

  constructor(private readonly maxEntries = DEFAULT_CACHED_MANIFEST_ENTRIES) {}

  /** The manifest of `digest` when it was read before. */
  get(digest: string): Manifest | undefined {
    const manifest = this.byDigest.get(digest);
    if (manifest !== undefined) {
      this.byDigest.delete(digest);
      this.byDigest.set(digest, manifest);
    }
    return manifest;
  }

  /** Remembers the manifest of `digest` (validated, canonical: what `readManifest` returns). */
  add(digest: string, manifest: Manifest): void {
    if (this.byDigest.has(digest) || manifest.entries.length > this.maxEntries) {
      return;
    }
    this.byDigest.set(digest, manifest);
    this.entries += manifest.entries.length;
    for (const [old, kept] of this.byDigest) {
      if (this.entries <= this.maxEntries) {
        break;
      }
      this.byDigest.delete(old);
      this.entries -= kept.entries.length;
    }
  }

  /**
   * The files of the manifest of `digest` whose content `blobs` lacks; none, without asking
   * `blobs`, once it had them all.
   */
  missingContents(digest: string, manifest: Manifest, blobs: BlobSource): FileEntry[] {
    const known = this.complete.get(blobs);
    if (known?.has(digest) === true && this.byDigest.has(digest)) {
      return [];
    }
    const missing = manifest.entries.filter(
      (e): e is FileEntry => e.type === 'file' && blobs.path(e.sha256) === null,
    );
    if (missing.length === 0 && this.byDigest.has(digest)) {
      const set = known ?? new Set<string>();
      set.add(digest);
      // Only digests still cached count, so the set is trimmed as they go.
      for (const d of set) {
        if (!this.byDigest.has(d)) {
          set.delete(d);
        }
      }
      this.complete.set(blobs, set);
    }
    return missing;
  }
}

/** The cache of this process (the service's and its workers'). */
export const manifestCache = new ManifestCache();
