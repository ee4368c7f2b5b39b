/**
 * A run's workspace between the caller and the service (`nbstage run --server`): the files
 * beside the notebook are scanned (hashed through the local cache), the manifest's digest is
 * sent, the service says which contents it lacks (all of them are listed only when it does not
 * have that manifest), and only those are uploaded, streamed. When the run has
 * ended, whatever its status, what it wrote is fetched by content and written into the caller's
 * workspace (atomically, never outside it, links as links; deletions only listed).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlobDir } from '../pipelines/workspace/blob-dir';
import {
  canonicalManifestJson,
  createManifest,
  manifestTotals,
  type FileEntry,
} from '../pipelines/workspace/manifest';
import { workspaceRoot } from '../pipelines/workspace/root';
import { scanWorkspace } from '../pipelines/workspace/scan';
import { writeBack, type WriteBackResult } from '../pipelines/workspace/write-back';
import { hostIdOf } from '../server/queue/labels';
import { inPlaceCandidates } from '../server/runs/run-in-place';
import type { WorkspaceRequest } from '../server/runs/run-request';
import type { RunWorkspace } from '../server/runs/service-run';
import type { NbstageClient } from './api-client';

/** Blobs uploaded at once. */
const UPLOADS_AT_ONCE = 4;

/** What the caller asked of the workspace (`--workspace`, `--exclude`, `--outputs`, ...). */
export interface WorkspaceOptions {
  /** `--workspace DIR`: the root; default `$WORKSPACE`, the git work tree, the notebook's folder. */
  dir?: string;
  exclude?: string[];
  outputs?: string[];
  noOutputs?: boolean;
  /** `--max-workspace` in bytes. */
  maxBytes?: number;
  /**
   * Files this run itself writes (its executed notebook, reports): left out, so the outputs of
   * the last run do not travel with the next.
   */
  ownFiles?: string[];
  env?: NodeJS.ProcessEnv;
}

/** A workspace sent: what the run request carries, and what it took. */
export interface SentWorkspace {
  request: WorkspaceRequest;
  root: string;
  files: number;
  bytes: number;
  /** File contents uploaded now (the others the service had), and their bytes. */
  uploaded: number;
  uploadedBytes: number;
  /** Files hashed now (the others came from the hash cache). */
  hashed: number;
  notes: readonly string[];
}

/**
 * Scans the workspace of `notebookPath` and uploads what the service lacks.
 * @throws WorkspaceError / WorkspaceLimitError (exit 2) before anything is sent
 */
export async function sendWorkspace(
  client: NbstageClient,
  notebookPath: string,
  options: WorkspaceOptions,
): Promise<SentWorkspace> {
  const env = options.env ?? process.env;
  const where = await workspaceRoot(notebookPath, { workspace: options.dir, env });
  const scan = await scanWorkspace(where.root, {
    exclude: options.exclude,
    maxBytes: options.maxBytes,
    env,
  });
  const own = new Set(
    (options.ownFiles ?? []).map((f) =>
      path.relative(scan.root, path.resolve(f)).split(path.sep).join('/'),
    ),
  );
  const manifest =
    own.size === 0
      ? scan.manifest
      : createManifest(scan.manifest.entries.filter((e) => !own.has(e.path)));
  const manifestJson = canonicalManifestJson(manifest);
  const digest = createHash('sha256').update(manifestJson, 'utf8').digest('hex');
  const totals = manifestTotals(manifest);
  const byDigest = new Map<string, FileEntry>();
  for (const entry of manifest.entries) {
    if (entry.type === 'file' && !byDigest.has(entry.sha256)) {
      byDigest.set(entry.sha256, entry);
    }
  }
  const inPlace = { hostId: hostIdOf(env), labels: inPlaceCandidates(scan.root) };
  // The manifest's digest alone first: a service that has it says what of it is missing (for
  // an unchanged workspace nothing), and only a new manifest costs the list of every content.
  const first = await client.planUpload([digest], { inPlace, manifest: digest });
  const plan =
    first.inPlace !== undefined || !first.missing.includes(digest)
      ? first
      : await client.planUpload([digest, ...byDigest.keys()], { inPlace });
  // A worker of this host runs the folder in place: only the manifest goes (for the record).
  const missing =
    plan.inPlace === undefined ? plan.missing : plan.missing.filter((d) => d === digest);
  let uploadedBytes = 0;
  const upload = async (wanted: string): Promise<void> => {
    if (wanted === digest) {
      const data = Buffer.from(manifestJson, 'utf8');
      await client.putBlob(wanted, data, data.length);
      return;
    }
    const entry = byDigest.get(wanted);
    if (entry === undefined) {
      return;
    }
    const file = path.join(scan.root, ...entry.path.split('/'));
    await client.putBlob(wanted, fs.createReadStream(file), entry.size);
    uploadedBytes += entry.size;
  };
  // A few at a time: many small files cost round trips more than bytes. The manifest goes last,
  // once everything it lists is there.
  const files = missing.filter((d) => d !== digest);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(UPLOADS_AT_ONCE, files.length) }, async () => {
      while (next < files.length) {
        await upload(files[next++]);
      }
    }),
  );
  if (missing.includes(digest)) {
    await upload(digest);
  }
  return {
    request: {
      manifest: digest,
      ...(where.cwdRel === '.' ? {} : { cwd: where.cwdRel }),
      ...(options.outputs === undefined || options.outputs.length === 0
        ? {}
        : { outputs: options.outputs }),
      ...(options.noOutputs === true ? { noOutputs: true } : {}),
      ...(plan.inPlace === undefined ? {} : { inPlace: { root: scan.root, label: plan.inPlace } }),
    },
    root: scan.root,
    files: totals.files,
    bytes: totals.bytes,
    uploaded: missing.filter((d) => d !== digest).length,
    uploadedBytes,
    hashed: scan.hashed,
    notes: scan.notes,
  };
}

/**
 * Writes what a run wrote into the caller's workspace at `root`: each output fetched by content
 * into a temporary folder first, then written in place.
 */
export async function receiveOutputs(
  client: NbstageClient,
  root: string,
  workspace: RunWorkspace,
): Promise<WriteBackResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-outputs-'));
  try {
    const blobs = new BlobDir(tmp);
    for (const output of workspace.outputs) {
      if (output.type === 'file' && !blobs.has(output.sha256)) {
        await blobs.put(await client.blob(output.sha256), output.sha256);
      }
    }
    return await writeBack(
      root,
      {
        changed: workspace.outputs.map((o) =>
          o.type === 'file'
            ? { path: o.path, type: 'file', sha256: o.sha256, size: o.size, mode: o.mode }
            : { path: o.path, type: 'symlink', target: o.target },
        ),
        deleted: workspace.deleted,
      },
      blobs,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
