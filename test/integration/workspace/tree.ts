/**
 * Helpers of the workspace tests: build a tree of files from a spec, list a tree in full
 * (everything in it, links not followed), count what the process reads (the kernel's own count,
 * /proc/self/io), and a hasher that counts its calls.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hashRegularFile, type FileHasher } from '../../../pipelines/workspace';

/** Writes `files` (path -> content) under `root`, making folders. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

/**
 * Everything under `root`, links never followed, by path (names that are not UTF-8 with their
 * bytes as `\\xNN`): `dir 755`, `file 644 <sha256>`, `link -> <target>`, `fifo`, `socket`,
 * `other`. Two trees with the same listing hold the same entries, contents, modes and targets.
 */
export function listTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (abs: Buffer, rel: string): void => {
    for (const name of fs.readdirSync(abs, { encoding: 'buffer' })) {
      const child = Buffer.concat([abs, Buffer.from('/'), name]);
      const shown = isUtf8(name)
        ? name.toString('utf8')
        : [...name].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
      const childRel = rel === '' ? shown : `${rel}/${shown}`;
      const stats = fs.lstatSync(child);
      const mode = (stats.mode & 0o7777).toString(8);
      if (stats.isDirectory()) {
        out[childRel] = `dir ${mode}`;
        visit(child, childRel);
      } else if (stats.isSymbolicLink()) {
        out[childRel] = `link -> ${fs.readlinkSync(child, 'utf8')}`;
      } else if (stats.isFile()) {
        const sha = createHash('sha256').update(fs.readFileSync(child)).digest('hex');
        out[childRel] = `file ${mode} ${sha}`;
      } else {
        out[childRel] = stats.isFIFO() ? 'fifo' : stats.isSocket() ? 'socket' : 'other';
      }
    }
  };
  visit(Buffer.from(root), '');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Bytes this process has read through read(2) and its kin so far, as the kernel counts them
 * (`rchar` of /proc/self/io, all threads, page cache or not); null where there is no such file.
 */
export function bytesRead(): number | null {
  try {
    const match = /^rchar:\s*(\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

/** The real hasher, wrapped to record the files it was asked to read. */
export function countingHasher(): { hashFile: FileHasher; files: string[] } {
  const files: string[] = [];
  return {
    files,
    hashFile: async (file, size) => {
      files.push(file);
      return hashRegularFile(file, size);
    },
  };
}

/** Waits a little, so that timestamps written before and after differ (the clock's tick). */
export function tick(ms = 40): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
