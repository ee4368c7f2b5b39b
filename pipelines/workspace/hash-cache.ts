/**
 * The hash cache of a workspace: the sha256 of each file as last hashed, with the `lstat`
 * fields it was hashed at, so that a scan of an unchanged tree reads no file. One JSON file per
 * root under the cache folder (`NBSTAGE_CACHE_DIR`, else `$XDG_CACHE_HOME/nbstage`, else
 * `~/.cache/nbstage`), folder 0700 and file 0600, written atomically (temporary file, then
 * rename). A cache that cannot be read or is not what this module writes is ignored and rebuilt.
 *
 * The key of an entry is the path, the size, mtime, ctime and inode. mtime alone can be set back
 * by any tool (`touch -r`, `cp -p`, `rsync -t`, an archive being unpacked) after the content
 * changed; ctime cannot be set by a process and moves on every write, chmod and rename, so with
 * it a changed file is never taken for an unchanged one, at the price of an extra read after a
 * chmod. The inode catches a file replaced by another (an editor's save-by-rename).
 * And, as git does with its index ("racy git"), an entry whose file's mtime or ctime is not
 * older than the cache file itself is not trusted: the file may have changed again within the
 * same timestamp tick after it was hashed; it is hashed again on the next scan.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { readFailureReason } from '../errors';
import type { WalkedFile } from './walk';

/** One cached hash: `[size, mtimeMs, ctimeMs, ino, sha256]`. */
type CachedHash = [number, number, number, number, string];

interface CacheFile {
  version: 1;
  root: string;
  entries: Record<string, CachedHash>;
}

const CACHE_SCHEMA = {
  type: 'object',
  properties: {
    version: { const: 1 },
    root: { type: 'string' },
    entries: {
      type: 'object',
      additionalProperties: {
        type: 'array',
        minItems: 5,
        maxItems: 5,
        items: [
          { type: 'number' },
          { type: 'number' },
          { type: 'number' },
          { type: 'number' },
          { type: 'string', pattern: '^[0-9a-f]{64}$' },
        ],
      },
    },
  },
  required: ['version', 'root', 'entries'],
};

const validateCache = new Ajv({ allErrors: false, strictTuples: false }).compile<CacheFile>(
  CACHE_SCHEMA,
);

/** The folder caches live in: `NBSTAGE_CACHE_DIR`, `$XDG_CACHE_HOME/nbstage`, `~/.cache/nbstage`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.NBSTAGE_CACHE_DIR;
  if (own !== undefined && own !== '') {
    return path.resolve(own);
  }
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'nbstage');
}

/** The file holding the hash cache of `root` (an absolute, real path) under `cacheDir`. */
export function hashCacheFile(cacheDir: string, root: string): string {
  const name = createHash('sha256').update(root, 'utf8').digest('hex').slice(0, 32);
  return path.join(cacheDir, 'workspace-hashes', `${name}.json`);
}

/** The hashes of one root: looked up before hashing, recorded after, saved once per scan. */
export class HashCache {
  // A Map, not an object: a file may be named `__proto__`.
  private readonly next = new Map<string, CachedHash>();
  private dirty = false;

  private constructor(
    private readonly file: string | null,
    private readonly root: string,
    private readonly known: Readonly<Record<string, CachedHash>>,
    /** mtime of the cache file as loaded; entries of files not older than it are not trusted. */
    private readonly writtenAtMs: number,
  ) {}

  /** A cache that remembers nothing and saves nothing (`cacheDir: null`). */
  static disabled(root: string): HashCache {
    return new HashCache(null, root, {}, 0);
  }

  /** Loads the cache of `root` from `cacheDir`; an unreadable or invalid one counts as empty. */
  static async load(cacheDir: string, root: string): Promise<HashCache> {
    const file = hashCacheFile(cacheDir, root);
    try {
      const handle = await open(file, 'r');
      try {
        const [stats, text] = await Promise.all([handle.stat(), handle.readFile('utf8')]);
        const parsed: unknown = JSON.parse(text);
        if (validateCache(parsed) && parsed.root === root) {
          return new HashCache(file, root, parsed.entries, stats.mtimeMs);
        }
      } finally {
        await handle.close();
      }
    } catch {
      // missing, unreadable or not JSON: start afresh
    }
    return new HashCache(file, root, {}, 0);
  }

  /** The cached sha256 of a file when its `lstat` fields are those it was hashed at, else null. */
  lookup(file: WalkedFile): string | null {
    const hit = Object.prototype.hasOwnProperty.call(this.known, file.path)
      ? this.known[file.path]
      : undefined;
    if (
      hit === undefined ||
      hit[0] !== file.size ||
      hit[1] !== file.mtimeMs ||
      hit[2] !== file.ctimeMs ||
      hit[3] !== file.ino ||
      Math.max(file.mtimeMs, file.ctimeMs) >= this.writtenAtMs
    ) {
      return null;
    }
    this.next.set(file.path, hit);
    return hit[4];
  }

  /** Remembers the sha256 of a file hashed at these `lstat` fields. */
  record(file: WalkedFile, sha256: string): void {
    this.next.set(file.path, [file.size, file.mtimeMs, file.ctimeMs, file.ino, sha256]);
    this.dirty = true;
  }

  /**
   * Writes the entries looked up or recorded since loading (files gone are dropped), when any
   * was recorded or dropped. Failing to write a cache is not an error of the scan: the reason
   * comes back as a note (null when saved or nothing to save).
   */
  async save(): Promise<string | null> {
    const dropped = Object.keys(this.known).length !== this.next.size;
    if (this.file === null || (!this.dirty && !dropped)) {
      return null;
    }
    const dir = path.dirname(this.file);
    const temp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
      const entries = Object.fromEntries(this.next);
      const body: CacheFile = { version: 1, root: this.root, entries };
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(body));
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
      return null;
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      return `hash cache not saved to ${this.file}: ${readFailureReason(err)}`;
    }
  }
}
