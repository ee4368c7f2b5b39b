/**
 * Helpers of the workspace tests: build a tree of files from a spec, count what the process
 * reads (the kernel's own count, /proc/self/io), and a hasher that counts its calls.
 */
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
