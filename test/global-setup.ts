/**
 * Checks, once before the suites, that what the integration tiers run against is there: the
 * Python environment with Jupyter (scripts/setup.sh) and the compiled CLI (npm run build). Marks
 * every process the suite starts (an environment variable its children inherit) and gives the
 * suite a runtime folder and a temporary folder (TMPDIR) of its own, so that
 * test/global-teardown.ts can check nothing is left: no process, no kernel connection file.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SUITE_MARK } from './helpers/processes';

export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const python = process.env.NBSTAGE_PYTHON ?? path.join(root, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) {
    throw new Error(`no Python environment at ${python}: run \`npm run setup\` first`);
  }
  if (!fs.existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
    throw new Error('the CLI is not built: run `npm run build` first');
  }
  process.env[SUITE_MARK] = randomUUID();
  // Embedded runs of the suite share a Jupyter server of their own, not the user's.
  process.env.NBSTAGE_RUNTIME_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-test-run-'));
  process.env.NBSTAGE_TEST_TMPDIR = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-test-tmp-'));
  process.env.TMPDIR = process.env.NBSTAGE_TEST_TMPDIR;
  // Files tests create to let a waiting cell go on: visible, read-only, in every sandbox.
  process.env.NBSTAGE_TEST_GATES = fs.mkdtempSync(path.join(os.tmpdir(), 'gates-'));
  process.env.NBSTAGE_SANDBOX_BIND = `${process.env.NBSTAGE_TEST_GATES}:ro`;
}
