/**
 * nbval's own sample notebooks (tests/ipynb-test-samples of its source distribution, fetched by
 * scripts/nbval-notebooks.sh) give nbval's verdicts under `nbstage run --baseline stored`: a
 * sample named `-pass-` passes (exit 0), one named `-fail-` fails its checks (exit 6). The
 * samples that import sympy are left out (not in the environment: only the standard library's
 * are run), and the test says which it ran.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetchedFolder } from '../../helpers/fetched';
import { cleanupDirs, runCli, tempDir } from '../../helpers/notebooks';

function samplesDir(): string {
  return fetchedFolder('nbval-notebooks.sh', "nbval's sample notebooks");
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
