/**
 * The manifest of a workspace: every file (by sha256, with its size and permission bits) and
 * every symlink (by its target text) under the root, and its canonical form, whose sha256 is
 * the workspace's digest. The same files give the same digest on every host.
 */
import { createHash } from 'node:crypto';

/** The version of the manifest format this module writes and reads. */
export const MANIFEST_VERSION = 1;

/** A regular file of the workspace, by content. */
export interface FileEntry {
  /** Relative to the root, `/`-separated, no `.` or `..` part. */
  readonly path: string;
  readonly type: 'file';
  /** sha256 of the content, 64 lowercase hex digits. */
  readonly sha256: string;
  /** Bytes. */
  readonly size: number;
  /** The permission bits, `mode & 0o777` (`0o644`, `0o755`). */
  readonly mode: number;
}

/** A symlink of the workspace: recorded as its target text, never followed. */
export interface SymlinkEntry {
  /** Relative to the root, `/`-separated, no `.` or `..` part. */
  readonly path: string;
  readonly type: 'symlink';
  /** What `readlink` returns, relative or absolute, inside the root or not. */
  readonly target: string;
}

/** One entry of a {@link Manifest}. */
export type ManifestEntry = FileEntry | SymlinkEntry;

/** The files and symlinks of a workspace, sorted by path (byte order of UTF-8). */
export interface Manifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly entries: readonly ManifestEntry[];
}

/**
 * Orders two paths by the bytes of their UTF-8 encoding (the order of `LC_ALL=C sort` and of
 * git's trees), which is not JavaScript's UTF-16 order for characters beyond U+FFFF.
 */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A copy of one entry holding exactly the fields of its type, in the canonical key order. */
function canonicalEntry(entry: ManifestEntry): ManifestEntry {
  return entry.type === 'file'
    ? {
        path: entry.path,
        type: 'file',
        sha256: entry.sha256,
        size: entry.size,
        mode: entry.mode,
      }
    : { path: entry.path, type: 'symlink', target: entry.target };
}

/**
 * A manifest of `entries` in canonical form: each entry with only the fields of its type, sorted
 * by path in byte order. Does not check the entries (see `validateManifest`).
 */
export function createManifest(entries: readonly ManifestEntry[]): Manifest {
  const keyed = entries.map((entry) => ({
    key: Buffer.from(entry.path, 'utf8'),
    entry: canonicalEntry(entry),
  }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return { version: MANIFEST_VERSION, entries: keyed.map((k) => k.entry) };
}

/**
 * The canonical serialization: `JSON.stringify` without spaces of
 * `{"version":1,"entries":[...]}`, entries sorted by path in byte order, a file as
 * `{"path","type","sha256","size","mode"}` and a symlink as `{"path","type","target"}`, keys in
 * that order. Another implementation that writes the same bytes gets the same digest.
 */
export function canonicalManifestJson(manifest: Manifest): string {
  const canonical = createManifest(manifest.entries);
  return JSON.stringify({ version: canonical.version, entries: canonical.entries });
}

/** The workspace's digest: sha256 (hex) of the UTF-8 bytes of {@link canonicalManifestJson}. */
export function manifestDigest(manifest: Manifest): string {
  return createHash('sha256').update(canonicalManifestJson(manifest), 'utf8').digest('hex');
}

/** What a manifest weighs: its files (symlinks not counted) and their bytes. */
export function manifestTotals(manifest: Manifest): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of manifest.entries) {
    if (entry.type === 'file') {
      files += 1;
      bytes += entry.size;
    }
  }
  return { files, bytes };
}
