/**
 * A run's workspace on the worker: the copy its kernel works in, written from the content store
 * before the run, and what the run created or changed in it, stored by content after the run,
 * whatever its status. Outputs whose path holds one of the run's secrets are not kept (the path
 * could not be written back masked), and say so.
 */
import fs from 'node:fs';
import { ValidationError } from '../../pipelines/errors';
import type { Masker } from '../../pipelines/secrets/mask';
import {
  recordedStats,
  workspaceChanges,
  type WorkspaceChanges,
} from '../../pipelines/workspace/changes';
import { outputSelector } from '../../pipelines/workspace/excludes';
import { treeStateAfter, treeWrittenStats } from '../../pipelines/workspace/sync-tree';
import type { CheckedOutTree, WorkspaceTrees } from '../workers/workspace-trees';
import type { Manifest } from '../../pipelines/workspace/manifest';
import { materialize, type WrittenStats } from '../../pipelines/workspace/materialize';
import type { WorkspaceContent } from '../workers/workspace-content';
import { inPlaceRoot } from './run-in-place';
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
  /** The kept tree the copy is, when the worker keeps trees; given back by {@link releaseWorkspace}. */
  tree?: CheckedOutTree;
  /** What the run changed, once known (the tree's next sync keeps those it recorded). */
  changes?: WorkspaceChanges;
  /** It is the caller's folder itself (no copy was made; `written` is its files before the run). */
  inPlace?: boolean;
}

/**
 * Writes the workspace of `request` under `root` from the content store.
 * @throws ValidationError when this worker has no content store, or the manifest is not there
 */
export async function checkoutWorkspace(
  request: WorkspaceRequest,
  where: { root: string } | { trees: WorkspaceTrees; key: string },
  content: WorkspaceContent | undefined,
  workspaceRoots: readonly string[] = [],
): Promise<WorkspaceCopy> {
  if (request.inPlace !== undefined) {
    // The caller's own folder, on this host: no copy, no content fetched.
    const root = inPlaceRoot(request.inPlace.root, workspaceRoots);
    const manifest = readManifest(
      request.manifest,
      await (content?.fetch([request.manifest]) ?? Promise.resolve({ path: () => null })),
      'workspace.manifest',
    );
    const cwd = kernelFolder(root, workspaceCwd(request.cwd));
    return { root, cwd, manifest, written: await recordedStats(root), inPlace: true };
  }
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
  const rel = workspaceCwd(request.cwd);
  if ('trees' in where) {
    // A tree an earlier run of the same job (or session) left, brought back to this manifest.
    const tree = await where.trees.checkout(where.key, manifest, blobs);
    const cwd = kernelFolder(tree.dir, rel);
    fs.mkdirSync(cwd, { recursive: true });
    return { root: tree.dir, cwd, manifest, written: treeWrittenStats(tree.state), tree };
  }
  fs.mkdirSync(where.root, { recursive: true });
  const { written } = await materialize(manifest, where.root, blobs, { strategy: 'copy' });
  const cwd = kernelFolder(where.root, rel);
  fs.mkdirSync(cwd, { recursive: true });
  return { root: where.root, cwd, manifest, written };
}

/**
 * Gives a kept tree back once the run's kernel is gone, with what it holds now (so that the
 * next sync keeps what is unchanged, the run's outputs included); unknown changes make the next
 * sync write every file.
 */
export async function releaseWorkspace(copy: WorkspaceCopy | null): Promise<void> {
  if (copy?.tree === undefined) {
    return;
  }
  const after =
    copy.changes === undefined
      ? null
      : await treeStateAfter(copy.root, copy.tree.state, copy.changes).catch(() => null);
  copy.tree.release(after);
}

/** What the run left in its copy: outputs stored by content, deletions listed. */
export async function workspaceOutputs(
  copy: WorkspaceCopy,
  request: WorkspaceRequest,
  content: WorkspaceContent | undefined,
  masker: Masker,
): Promise<Pick<RunWorkspace, 'outputs' | 'deleted' | 'notes' | 'copy'>> {
  const made: Pick<RunWorkspace, 'copy'> =
    copy.inPlace === true
      ? {}
      : copy.tree === undefined
        ? { copy: { reused: false, written: Object.keys(copy.written).length, kept: 0 } }
        : {
            copy: { reused: copy.tree.reused, written: copy.tree.rewritten, kept: copy.tree.kept },
          };
  if (content === undefined) {
    return { outputs: [], deleted: [], ...made };
  }
  // All of them, for the kept tree's state; then the ones asked for.
  const all = await workspaceChanges(copy.root, copy.manifest, copy.written);
  copy.changes = all;
  if (request.noOutputs === true) {
    return { outputs: [], deleted: [], ...made };
  }
  const selected = outputSelector(request.outputs);
  const changes = {
    changed: all.changed.filter((e) => selected(e.path)),
    deleted: all.deleted.filter((p) => selected(p)),
    notes: all.notes,
  };
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
  return { outputs, deleted, ...(notes.length === 0 ? {} : { notes }), ...made };
}
