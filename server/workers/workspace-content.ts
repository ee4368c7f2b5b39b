/**
 * Where a worker gets a run's workspace content and puts what the run wrote: the service's own
 * content store for its in-process workers ({@link localContent}); workers on other hosts fetch
 * over HTTP into a cache of their own (see remote-content.ts).
 */
import type { BlobDir, BlobSource, StoredBlob } from '../../pipelines/workspace/blob-dir';

/** A worker's access to the content store. */
export interface WorkspaceContent {
  /** A local source holding at least `digests` (fetching what this host lacks). */
  fetch(digests: readonly string[], signal?: AbortSignal): Promise<BlobSource>;
  /** Stores a file a run wrote; its sha256 and size. */
  store(file: string): Promise<StoredBlob>;
}

/** The content store of the service this worker runs in. */
export function localContent(blobs: BlobDir): WorkspaceContent {
  return {
    fetch: () => Promise.resolve(blobs),
    store: (file) => blobs.put(file),
  };
}
