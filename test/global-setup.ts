/**
 * Checks, once before the suites, that what the integration tiers run against is there: the
 * Python environment with Jupyter (scripts/setup.sh) and the compiled CLI (npm run build).
 */
import fs from 'node:fs';
import path from 'node:path';

export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const python = process.env.NBSTAGE_PYTHON ?? path.join(root, '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) {
    throw new Error(`no Python environment at ${python}: run \`npm run setup\` first`);
  }
  if (!fs.existsSync(path.join(root, 'dist', 'server', 'cli', 'main.js'))) {
    throw new Error('the CLI is not built: run `npm run build` first');
  }
}
