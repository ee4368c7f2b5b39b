/**
 * nbval's own sample notebooks (tests/ipynb-test-samples of its source distribution, fetched by
 * scripts/nbval-notebooks.sh) give nbval's verdicts under `nbstage run --baseline stored`: a
 * sample named `-pass-` passes (exit 0), one named `-fail-` fails its checks (exit 6). The
 * samples that import sympy are left out (not in the environment: only the standard library's
 * are run), and the test says which it ran.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanupDirs, runCli, tempDir } from '../../helpers/notebooks';

const ROOT = path.resolve(__dirname, '../../..');

function samplesDir(): string {
  const res = spawnSync('bash', [path.join(ROOT, 'scripts/nbval-notebooks.sh')], {
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    throw new Error(
      `nbval's sample notebooks are missing and could not be fetched ` +
        `(run bash scripts/setup.sh --test): ${res.stderr.trim()}`,
    );
  }
  return res.stdout.trim();
}

/** The samples that need only the standard library (no import of a third-party module). */
function standardLibrarySamples(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.ipynb'))
    .filter((name) => !fs.readFileSync(path.join(dir, name), 'utf8').includes('import sympy'))
    .sort();
}

describe("nbval's sample notebooks with --baseline stored", () => {
  afterAll(cleanupDirs);
  const dir = samplesDir();
  const samples = standardLibrarySamples(dir);

  it('finds the standard-library samples of both verdicts', () => {
    expect(samples).toEqual([
      'test-exceptions-fail-storedmismatch.ipynb',
      'test-stream-fail-missingoutput.ipynb',
      'test-stream-pass-missing-unexecuted-output.ipynb',
    ]);
  });

  it.each(samples.map((s) => [s]))("%s gets nbval's verdict", async (sample) => {
    // A copy: the executed notebook goes beside it, not into the cache.
    const work = tempDir();
    const file = path.join(work, sample);
    fs.copyFileSync(path.join(dir, sample), file);
    const res = await runCli(['run', '--no-progress', '--baseline', 'stored', file], {
      env: { NBSTAGE_JUPYTER_URL: '' },
    });
    const expected = sample.includes('-pass-') ? 0 : 6;
    expect([res.code, res.stderr]).toEqual([expected, expect.stringContaining('checks')]);
  });
});
