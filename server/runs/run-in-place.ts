/**
 * A workspace run in place (`nbstage worker --workspace-root DIR`): when a run comes from this
 * worker's own host and its workspace lies under one of its roots, the kernel works in the
 * caller's folder itself, with no copy and no upload. What the run changed is found by the
 * `lstat` of every file before and after it (`recordedStats`, `workspaceChanges`) and stored by
 * content for the record; it is already where the caller wants it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../../pipelines/errors';

/** What every in-place worker label starts with (`inplace.<hash of the root>`). */
export const IN_PLACE_LABEL_PREFIX = 'inplace.';

/** The label of a worker that runs workspaces under `root` in place. */
export function inPlaceLabel(root: string): string {
  return `${IN_PLACE_LABEL_PREFIX}${createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 24)}`;
}

/** The labels a workspace at `root` could be run in place under: one per folder up to `/`. */
export function inPlaceCandidates(root: string): string[] {
  const out: string[] = [];
  for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
    out.push(inPlaceLabel(dir));
    if (path.dirname(dir) === dir) {
      return out;
    }
  }
}

/**
 * The caller's folder for an in-place run, checked: real, a folder, and under one of `roots`.
 * @throws ValidationError naming `workspace.inPlace`
 */
export function inPlaceRoot(root: string, roots: readonly string[]): string {
  let real: string;
  try {
    real = fs.realpathSync(root);
  } catch {
    throw new ValidationError(
      'workspace.inPlace',
      `workspace.inPlace: ${root} is not on this worker's host`,
    );
  }
  const under = roots.some((r) => real === r || real.startsWith(`${r}${path.sep}`));
  if (!under || !fs.statSync(real).isDirectory()) {
    throw new ValidationError(
      'workspace.inPlace',
      `workspace.inPlace: ${root} is not under this worker's --workspace-root (${roots.join(', ') || 'none'})`,
    );
  }
  return real;
}
