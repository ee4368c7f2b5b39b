/**
 * The bounds of a workspace (bytes, files, path length) and the errors that say a workspace is
 * over them, naming what weighs most so the user knows what to exclude. Checked on sizes and
 * counts alone, before any file is read.
 */
import { WorkspaceLimitError, type WorkspaceEntrySize } from '../errors';
import { formatLimit } from '../executor/output-limits';

/** Default of `--max-workspace`: 4 GiB of file content. */
export const DEFAULT_MAX_WORKSPACE_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * Default bound on the entries of a workspace (files and symlinks together): 200,000. A tree
 * that large is almost always a dependency or data folder that should be excluded; the bound
 * keeps the manifest (one JSON body) and the hash cache reasonable. Adjustable per scan.
 */
export const DEFAULT_MAX_WORKSPACE_FILES = 200_000;

/** The longest path of an entry, in characters (Linux's PATH_MAX is 4096 bytes). */
export const MAX_WORKSPACE_PATH_LENGTH = 4096;

/** How many entries a limit error names. */
const NAMED = 5;

/** A file (or symlink) seen by the walk, with what it weighs. */
export interface SizedPath {
  readonly path: string;
  readonly size: number;
}

/** The top-level folder of a path with a trailing `/`, or null for a path at the root. */
function topFolder(rel: string): string | null {
  const slash = rel.indexOf('/');
  return slash < 0 ? null : rel.slice(0, slash + 1);
}

/**
 * The `NAMED` heaviest of the top-level folders and (with `files`) of the files, by `weigh`
 * (bytes, or 1 per file), heaviest first; a folder's weight is the sum of its entries'.
 */
export function heaviestEntries(
  items: readonly SizedPath[],
  weigh: (item: SizedPath) => number,
  files = true,
): WorkspaceEntrySize[] {
  const folders = new Map<string, number>();
  const candidates: WorkspaceEntrySize[] = [];
  for (const item of items) {
    const amount = weigh(item);
    const folder = topFolder(item.path);
    if (folder !== null) {
      folders.set(folder, (folders.get(folder) ?? 0) + amount);
    }
    if (files && amount > 0) {
      candidates.push({ path: item.path, amount });
    }
  }
  for (const [folder, amount] of folders) {
    candidates.push({ path: folder, amount });
  }
  candidates.sort((a, b) => b.amount - a.amount || (a.path < b.path ? -1 : 1));
  return candidates.slice(0, NAMED);
}

const EXCLUDE_HINT = 'leave them out with --exclude GLOB or a .nbstageignore at the root';

/**
 * Refuses a workspace whose files hold more than `maxBytes` (`--max-workspace`).
 *
 * @throws WorkspaceLimitError naming the limit, the total and the largest entries
 */
export function checkWorkspaceBytes(
  root: string,
  items: readonly SizedPath[],
  maxBytes: number,
): void {
  let total = 0;
  for (const item of items) {
    total += item.size;
  }
  if (total <= maxBytes) {
    return;
  }
  const largest = heaviestEntries(items, (item) => item.size);
  const named = largest.map((e) => `${e.path} (${formatLimit(e.amount)})`).join(', ');
  throw new WorkspaceLimitError(
    'bytes',
    maxBytes,
    total,
    largest,
    `workspace ${root} holds ${formatLimit(total)} in ${items.length} files, over the limit of ` +
      `${formatLimit(maxBytes)} (--max-workspace); the largest: ${named}; ${EXCLUDE_HINT}`,
  );
}

/**
 * The error for a workspace with more than `maxFiles` entries; the walk stops at the first entry
 * over the bound, so the counts are those seen until then.
 */
export function tooManyFilesError(
  root: string,
  seen: readonly SizedPath[],
  maxFiles: number,
): WorkspaceLimitError {
  const largest = heaviestEntries(seen, () => 1, false);
  const named = largest.map((e) => `${e.path} (${e.amount} files)`).join(', ');
  return new WorkspaceLimitError(
    'files',
    maxFiles,
    seen.length,
    largest,
    `workspace ${root} holds more than ${maxFiles} files and symlinks, the most a workspace may ` +
      `hold; the fullest folders (counted until the limit was passed): ${named || 'none'}; ` +
      EXCLUDE_HINT,
  );
}
