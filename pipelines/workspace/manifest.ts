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
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) {
    // Without characters beyond U+FFFF, UTF-16 order is the UTF-8 bytes' order.
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A UTF-16 surrogate: part of a character beyond U+FFFF, where UTF-16 and UTF-8 orders differ. */
const SURROGATE = /[\uD800-\uDFFF]/;

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
 * The manifests {@link createManifest} made, frozen (so they cannot have changed since), with
 * their digest once computed: serializing or hashing one again needs no second sort.
 */
const canonical = new WeakMap<Manifest, { digest: string | null }>();

/**
 * A manifest of `entries` in canonical form: each entry with only the fields of its type, sorted
 * by path in byte order. Does not check the entries (see `validateManifest`). The manifest and
 * its entries are frozen.
 */
export function createManifest(entries: readonly ManifestEntry[]): Manifest {
  const sorted = entries.map((entry) => Object.freeze(canonicalEntry(entry)));
  sorted.sort((a, b) => compareBytes(a.path, b.path));
  const manifest: Manifest = Object.freeze({
    version: MANIFEST_VERSION,
    entries: Object.freeze(sorted),
  });
  canonical.set(manifest, { digest: null });
  return manifest;
}

/** Whether `manifest` is one {@link createManifest} made (canonical, frozen). */
export function isCanonical(manifest: Manifest): boolean {
  return canonical.has(manifest);
}

/**
 * The canonical serialization: `JSON.stringify` without spaces of
 * `{"version":1,"entries":[...]}`, entries sorted by path in byte order, a file as
 * `{"path","type","sha256","size","mode"}` and a symlink as `{"path","type","target"}`, keys in
 * that order. Another implementation that writes the same bytes gets the same digest.
 */
export function canonicalManifestJson(manifest: Manifest): string {
  const sorted = canonical.has(manifest) ? manifest : createManifest(manifest.entries);
  return JSON.stringify({ version: sorted.version, entries: sorted.entries });
}

/** The workspace's digest: sha256 (hex) of the UTF-8 bytes of {@link canonicalManifestJson}. */
export function manifestDigest(manifest: Manifest): string {
  const known = canonical.get(manifest);
  if (known !== undefined && known.digest !== null) {
    return known.digest;
  }
  const digest = createHash('sha256').update(canonicalManifestJson(manifest), 'utf8').digest('hex');
  if (known !== undefined) {
    known.digest = digest;
  }
  return digest;
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
