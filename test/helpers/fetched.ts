/**
 * Folders the setup fetches for the compatibility tests (nbclient's and nbval's test notebooks,
 * scripts/*-notebooks.sh): the script prints the folder, fetching it first when it is missing.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** The folder `scripts/<script>` prints. @throws naming `what` when it cannot be had */
export function fetchedFolder(script: string, what: string): string {
  const res = spawnSync('bash', [path.join(ROOT, 'scripts', script)], { encoding: 'utf8' });
  if (res.status !== 0) {
    throw new Error(
      `${what} are missing and could not be fetched (run bash scripts/setup.sh --test): ` +
        res.stderr.trim(),
    );
  }
  return res.stdout.trim();
}
