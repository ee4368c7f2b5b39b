/**
 * Writing a run's outputs into the caller's workspace: each changed file from its blob,
 * atomically (a temporary file in the same folder, flushed, then renamed over the old one), each
 * symlink recreated as the same link, never anything outside the root, never through a symlink
 * that lies in the caller's root (wherever it points), never into a built-in folder (`.git/`).
 * Files the run deleted are listed, not deleted. A path that cannot be written is refused with
 * its reason, and the others are still written: one odd path does not cost a run its outputs.
 */
import { symlinkSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { readFailureReason } from '../errors';
import { relativePathProblem } from '../paths/relative-path';
import type { BlobSource } from './blob-dir';
import type { WorkspaceChanges } from './changes';
import { isBuiltinExcluded } from './excludes';
import { MAX_WORKSPACE_PATH_LENGTH } from './limits';
import { compareBytes, type ManifestEntry } from './manifest';
import { DEFAULT_CONCURRENCY, Yielder, mapLimit } from './pool';
import { blockedBy, copyBlob, placeEntry, prepareFolders } from './safe-write';

/** A path {@link writeBack} did not write, and why. */
export interface RefusedWrite {
  readonly path: string;
  readonly reason: string;
}

/** What {@link writeBack} did. */
export interface WriteBackResult {
  /** Paths written (files and symlinks), sorted. */
  readonly written: string[];
  /** Paths the run deleted, as given: listed, not deleted. */
  readonly deleted: string[];
  /** Paths not written, with the reason; a caller reports them. */
  readonly refused: RefusedWrite[];
}

/** Options of {@link writeBack}. */
export interface WriteBackOptions {
  /** Files written at once; default 4. */
  readonly concurrency?: number;
}

/** Why an entry must not be written anywhere, before looking at the disk; null when it may. */
function entryProblem(entry: ManifestEntry, paths: ReadonlySet<string>): string | null {
  const problem = relativePathProblem(entry.path, {
    folder: 'the workspace',
    maxLength: MAX_WORKSPACE_PATH_LENGTH,
  });
  if (problem !== null) {
    return `the path ${problem}`;
  }
  const parts = entry.path.split('/');
  if (parts.some(isBuiltinExcluded)) {
    return 'it lies in a folder nbstage never writes (.git, .nbstage, node_modules, .venv...)';
  }
  for (let n = 1; n < parts.length; n++) {
    if (paths.has(parts.slice(0, n).join('/'))) {
      return `it lies below ${parts.slice(0, n).join('/')}, which is an output itself`;
    }
  }
  if (entry.type === 'symlink' && (entry.target === '' || entry.target.includes('\0'))) {
    return 'the symlink has an empty target or one with NUL';
  }
  return null;
}

/**
 * Writes `changes` (from `workspaceChanges`) into `root` from `blobs`; see the module's header.
 * A path that cannot be written, for whatever reason (a symlink on the way, a folder in the
 * way, a full disk), is in `refused`; the others are written.
 */
export async function writeBack(
  root: string,
  changes: Pick<WorkspaceChanges, 'changed' | 'deleted'>,
  blobs: BlobSource,
  options: WriteBackOptions = {},
): Promise<WriteBackResult> {
  const real = await realpath(root);
  const refused: RefusedWrite[] = [];
  const paths = new Set(changes.changed.map((e) => e.path));
  const accepted: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const entry of changes.changed) {
    const problem = seen.has(entry.path) ? 'it is listed twice' : entryProblem(entry, paths);
    seen.add(entry.path);
    if (problem === null && entry.type === 'file' && blobs.path(entry.sha256) === null) {
      refused.push({ path: entry.path, reason: `its content (sha256 ${entry.sha256}) is missing` });
    } else if (problem !== null) {
      refused.push({ path: entry.path, reason: problem });
    } else {
      accepted.push(entry);
    }
  }

  const blocked = await prepareFolders(
    real,
    accepted.map((e) => e.path),
  );
  const written: string[] = [];
  const yielder = new Yielder();
  await mapLimit(accepted, options.concurrency ?? DEFAULT_CONCURRENCY, async (entry) => {
    await yielder.tick();
    const why =
      blockedBy(entry.path, blocked) ??
      (await placeEntry(real, entry.path, (temp) =>
        entry.type === 'file'
          ? copyBlob(blobs.path(entry.sha256) as string, temp, entry.mode, entry.size, true)
          : symlinkSync(entry.target, temp),
      ).catch((err: unknown) => `it cannot be written: ${readFailureReason(err)}`));
    if (why === null) {
      written.push(entry.path);
    } else {
      refused.push({ path: entry.path, reason: why });
    }
  });
  written.sort(compareBytes);
  refused.sort((a, b) => compareBytes(a.path, b.path));
  return { written, deleted: [...changes.deleted], refused };
}
