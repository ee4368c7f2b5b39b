/**
 * A run's workspace on the worker: the copy its kernel works in, written from the content store
 * before the run, and what the run created or changed in it, stored by content after the run,
 * whatever its status. Outputs whose path holds one of the run's secrets are not kept (the path
 * could not be written back masked), and say so.
 */
import fs from 'node:fs';
import { ValidationError } from '../../pipelines/errors';
import type { Masker } from '../../pipelines/secrets/mask';
import { workspaceChanges } from '../../pipelines/workspace/changes';
import type { Manifest } from '../../pipelines/workspace/manifest';
import { materialize, type WrittenStats } from '../../pipelines/workspace/materialize';
import type { WorkspaceContent } from '../workers/workspace-content';
import type { WorkspaceRequest } from './run-request';
import { kernelFolder, readManifest, workspaceCwd } from './run-workspace';
import type { RunWorkspace, WorkspaceOutput } from './service-run';

/** A run's copy of its workspace. */
export interface WorkspaceCopy {
  /** The copy's root. */
  root: string;
  /** The kernel's folder in it. */
  cwd: string;
  manifest: Manifest;
  /** What was written, to tell what the run changed. */
  written: WrittenStats;
}

/**
 * Writes the workspace of `request` under `root` from the content store.
 * @throws ValidationError when this worker has no content store, or the manifest is not there
 */
export async function checkoutWorkspace(
  request: WorkspaceRequest,
  root: string,
  content: WorkspaceContent | undefined,
): Promise<WorkspaceCopy> {
  if (content === undefined) {
    throw new ValidationError(
      'workspace',
      'workspace: this worker cannot fetch workspaces (start it with NBSTAGE_URL and NBSTAGE_TOKEN of the service)',
    );
  }
  const manifest = readManifest(
    request.manifest,
    await content.fetch([request.manifest]),
    'workspace.manifest',
  );
  const digests = manifest.entries.flatMap((e) => (e.type === 'file' ? [e.sha256] : []));
  const blobs = await content.fetch(digests);
  fs.mkdirSync(root, { recursive: true });
  const { written } = await materialize(manifest, root, blobs, { strategy: 'copy' });
  const cwd = kernelFolder(root, workspaceCwd(request.cwd));
  fs.mkdirSync(cwd, { recursive: true });
  return { root, cwd, manifest, written };
}

/** What the run left in its copy: outputs stored by content, deletions listed. */
export async function workspaceOutputs(
  copy: WorkspaceCopy,
  request: WorkspaceRequest,
  content: WorkspaceContent | undefined,
  masker: Masker,
): Promise<Pick<RunWorkspace, 'outputs' | 'deleted' | 'notes'>> {
  if (request.noOutputs === true || content === undefined) {
    return { outputs: [], deleted: [] };
  }
  const changes = await workspaceChanges(copy.root, copy.manifest, copy.written, {
    outputs: request.outputs,
  });
  const outputs: WorkspaceOutput[] = [];
  const notes = [...changes.notes];
  for (const entry of changes.changed) {
    if (
      masker.mask(entry.path) !== entry.path ||
      (entry.type === 'symlink' && masker.mask(entry.target) !== entry.target)
    ) {
      notes.push(`${masker.mask(entry.path)}: not kept, its name holds a secret`);
      continue;
    }
    if (entry.type === 'symlink') {
      outputs.push({
        path: entry.path,
        type: 'symlink',
        target: entry.target,
      });
      continue;
    }
    const stored = await content.store(`${copy.root}/${entry.path}`);
    outputs.push({
      path: entry.path,
      type: 'file',
      sha256: stored.sha256,
      size: stored.size,
      mode: entry.mode,
    });
  }
  const deleted = changes.deleted.filter((p) => masker.mask(p) === p);
  return { outputs, deleted, ...(notes.length === 0 ? {} : { notes }) };
}
