/**
 * A run's workspace on the service side: the check before a run is queued (its manifest was
 * uploaded, is valid and canonical, and every file it lists is in the content store, so a worker
 * never starts a run whose inputs cannot be had), reading the manifest back on a worker, and the
 * kernel's folder inside the copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../../pipelines/errors';
import { relativePathProblem } from '../../pipelines/paths/relative-path';
import type { BlobSource } from '../../pipelines/workspace/blob-dir';
import { manifestDigest, manifestTotals, type Manifest } from '../../pipelines/workspace/manifest';
import { validateManifest } from '../../pipelines/workspace/validate-manifest';
import { manifestCache } from './manifest-cache';
import type { WorkspaceRequest } from './run-request';
import type { RunWorkspace } from './service-run';

const FIELD = 'body.workspace';

/**
 * The manifest blob `digest` of `blobs`, parsed, validated and canonical (read once per digest,
 * see {@link manifestCache}). @throws ValidationError
 */
export function readManifest(
  digest: string,
  blobs: BlobSource,
  field = `${FIELD}.manifest`,
): Manifest {
  const file = blobs.path(digest);
  const cached = file === null ? undefined : manifestCache.get(digest);
  if (cached !== undefined) {
    return cached;
  }
  if (file === null) {
    throw new ValidationError(
      field,
      `${field}: manifest ${digest} was not uploaded (PUT /api/v1/blobs/${digest} first)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ValidationError(
      field,
      `${field}: manifest ${digest} is not JSON: ${(err as Error).message}`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = validateManifest(json);
  } catch (err) {
    if (err instanceof ValidationError) {
      throw new ValidationError(`${field}/${err.field}`, `${field}/${err.message}`);
    }
    throw err;
  }
  if (manifestDigest(manifest) !== digest) {
    throw new ValidationError(
      field,
      `${field}: manifest ${digest} is not in canonical form (entries sorted by path, canonical JSON)`,
    );
  }
  manifestCache.add(digest, manifest);
  return manifest;
}

/** The kernel's folder relative to the root: `.` for the root. @throws ValidationError */
export function workspaceCwd(cwd: string | undefined): string {
  if (cwd === undefined || cwd === '.' || cwd === '') {
    return '.';
  }
  const problem = relativePathProblem(cwd, { folder: 'the workspace', maxLength: 4096 });
  if (problem !== null) {
    throw new ValidationError(`${FIELD}.cwd`, `${FIELD}.cwd: ${JSON.stringify(cwd)} ${problem}`);
  }
  return cwd;
}

/**
 * Checks a run's workspace before it is queued; the record's `workspace` (outputs still empty).
 * @throws ValidationError naming the field: no content store, a manifest not uploaded or not
 *   valid, files whose content was not uploaded, a bad cwd
 */
export function checkWorkspace(
  request: WorkspaceRequest,
  blobs: BlobSource | undefined,
): RunWorkspace {
  if (blobs === undefined) {
    throw new ValidationError(FIELD, `${FIELD}: this service takes no workspaces`);
  }
  const manifest = readManifest(request.manifest, blobs);
  // In place, the contents stay in the caller's folder: nothing was uploaded.
  const missing =
    request.inPlace !== undefined
      ? []
      : manifestCache.missingContents(request.manifest, manifest, blobs);
  if (missing.length > 0) {
    const named = missing.slice(0, 3).map((e) => JSON.stringify(e.path));
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
    throw new ValidationError(
      `${FIELD}.manifest`,
      `${FIELD}.manifest: the content of ${named.join(', ')}${more} was not uploaded (ask POST /api/v1/blobs/missing)`,
    );
  }
  const { files, bytes } = manifestTotals(manifest);
  return {
    digest: request.manifest,
    files,
    bytes,
    cwd: workspaceCwd(request.cwd),
    outputs: [],
    deleted: [],
    ...(request.inPlace === undefined ? {} : { inPlace: true }),
  };
}

/** Where the kernel works in a copy of the workspace at `root`. */
export function kernelFolder(root: string, cwd: string): string {
  return cwd === '.' ? root : path.join(root, ...cwd.split('/'));
}
