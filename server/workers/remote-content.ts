/**
 * The content store of a service on another host, for `nbstage worker` (`NBSTAGE_URL`,
 * `NBSTAGE_TOKEN` of role run): a run's workspace is fetched into a local cache, each blob once
 * (checked against its digest on arrival), and what a run wrote is uploaded unless the service
 * has it already.
 */
import { createReadStream } from 'node:fs';
import type { NbstageClient } from '../../client/api-client';
import { BlobDir } from '../../pipelines/workspace/blob-dir';
import { sha256File } from '../../pipelines/workspace/hasher';
import type { WorkspaceContent } from './workspace-content';

/** A worker's access to the content store of the service `client` talks to. */
export function remoteContent(client: NbstageClient, cacheDir: string): WorkspaceContent {
  const cache = new BlobDir(cacheDir);
  return {
    async fetch(digests) {
      for (const digest of new Set(digests)) {
        if (!cache.has(digest)) {
          await cache.put(await client.blob(digest), digest);
        }
      }
      return cache;
    },
    async store(file) {
      const stored = await sha256File(file);
      if ((await client.missingBlobs([stored.sha256])).length > 0) {
        await client.putBlob(stored.sha256, createReadStream(file), stored.size);
      }
      return stored;
    },
  };
}
