/**
 * After every suite: nothing the test run started may still run. Stops the suite's shared
 * Jupyter server (embedded runs start it on purpose, like a build daemon), then waits a few
 * seconds for every process marked as this run's to be gone; fails naming those that are not
 * (and kills them, so that one failure does not leak into the next run). No kernel connection
 * file (a kernel's key) may be left in the suite's temporary folder either.
 */
import fs from 'node:fs';
import { stopSharedServers } from '../kernels/shared-server';
import { killAll, markedProcesses, SUITE_MARK, survivors } from './helpers/processes';

export default async function globalTeardown(): Promise<void> {
  const mark = process.env[SUITE_MARK];
  const runtimeDir = process.env.NBSTAGE_RUNTIME_DIR;
  if (mark === undefined || runtimeDir === undefined) {
    return;
  }
  await stopSharedServers(runtimeDir);
  fs.rmSync(runtimeDir, { recursive: true, force: true });
  const left = await survivors(markedProcesses(mark), 10_000);
  if (left.length > 0) {
    killAll(markedProcesses(mark));
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
