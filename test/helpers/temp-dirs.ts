/** Temp folders for tests, each named `test-<uuid>` and removed when the test is done. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dirs: string[] = [];

/** A fresh temp folder named `test-<uuid>`, removed by {@link cleanupDirs}. */
export function tempDir(): string {
  const dir = path.join(os.tmpdir(), `test-${randomUUID()}`);
  fs.mkdirSync(dir, { recursive: true });
  dirs.push(dir);
  return dir;
}

/** Removes the temp folders made so far. */
export function cleanupDirs(): void {
  for (const dir of dirs.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fresh temp folder for every test of the enclosing `describe` (made before each test, removed
 * after it, whatever other folders the file made); call the returned function inside a test to
 * get the current one.
 */
export function useTempDir(): () => string {
  let dir: string | undefined;
  beforeEach(() => {
    dir = path.join(os.tmpdir(), `test-${randomUUID()}`);
    fs.mkdirSync(dir, { recursive: true });
  });
  afterEach(() => {
    if (dir !== undefined) {
      fs.rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    }
  });
  return () => {
    if (dir === undefined) {
      throw new Error('useTempDir: the folder exists only while a test runs');
    }
    return dir;
  };
}

/**
 * A path (not yet a file) a waiting cell watches, in the suite's gates folder, which every
 * service's sandbox shows (NBSTAGE_SANDBOX_BIND): create it to let the cell go on.
 */
export function gateFile(): string {
  const gates = process.env.NBSTAGE_TEST_GATES;
  return path.join(gates !== undefined && gates !== '' ? gates : tempDir(), `gate-${randomUUID()}`);
}
