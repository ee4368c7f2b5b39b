/**
 * After every suite: nothing the test run started may still run. Stops the suite's shared
 * Jupyter server (embedded runs start it on purpose, like a build daemon), then waits a few
 * seconds for every process of this run (marked, or naming its folders) to be gone; fails naming those that are not
 * (and kills them, so that one failure does not leak into the next run). No kernel connection
 * file (a kernel's key) may be left in the suite's temporary folder either.
 */
import fs from 'node:fs';
import { stopSharedServers } from '../kernels/shared-server';
import {
  killAll,
  markedProcesses,
  processesWithArgs,
  SUITE_MARK,
  survivors,
} from './helpers/processes';

/**
 * The processes of this test run: those marked, and those whose command line names one of its
 * folders (a shared Jupyter server starts with a scrubbed environment, without the mark, but
 * its root is a runtime folder of the run).
 */
function suiteProcesses(mark: string, folders: string[]): number[] {
  const found = new Set(markedProcesses(mark));
  for (const folder of folders) {
    for (const pid of processesWithArgs(folder)) {
      found.add(pid);
    }
  }
  return [...found];
}

export default async function globalTeardown(): Promise<void> {
  const mark = process.env[SUITE_MARK];
  const runtimeDir = process.env.NBSTAGE_RUNTIME_DIR;
  if (mark === undefined || runtimeDir === undefined) {
    return;
  }
  await stopSharedServers(runtimeDir);
  fs.rmSync(runtimeDir, { recursive: true, force: true });
  const folders = [runtimeDir, process.env.NBSTAGE_TEST_TMPDIR ?? ''].filter(Boolean);
  const left = await survivors(suiteProcesses(mark, folders), 10_000);
  if (left.length > 0) {
    killAll(suiteProcesses(mark, folders));
    throw new Error(
      `the test run left ${left.length} process(es) running:\n  ${left.join('\n  ')}`,
    );
  }
  const tmp = process.env.NBSTAGE_TEST_TMPDIR;
  if (tmp !== undefined) {
    const keys = fs.readdirSync(tmp).filter((name) => name.startsWith('nbstage-kernel-'));
    fs.rmSync(tmp, { recursive: true, force: true });
    if (keys.length > 0) {
      throw new Error(`the test run left kernel connection files: ${keys.join(', ')}`);
    }
  }
}
