/**
 * The reproducibility record and resource forensics of embedded runs on a real ipykernel: the
 * environment the kernel reports of itself (its ipykernel is the one installed where it runs),
 * the git commit and dirty flag of the run's checkout, no cell added for it; the peak resident
 * memory of each cell; `--memory` turning an allocation over it into a MemoryError that names
 * the limit; a SIGKILLed kernel named with the signal, the cell and its peak.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CodeCell, JSONObject, Notebook } from '../../../pipelines/notebook/model';
import { venvPython } from '../../../kernels/python-env';
import {
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  tempDir,
  writeNotebook,
  type CliResult,
} from '../../helpers/notebooks';

const run = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
  runCli(['run', '--no-progress', ...args], { env: { NBSTAGE_JUPYTER_URL: '', ...env } });
const executed = (input: string): Notebook =>
  readJson(input.replace(/\.ipynb$/, '.executed.ipynb'));
const environmentOf = (nb: Notebook): JSONObject => nb.metadata.nbstage?.environment as JSONObject;
const peakOf = (nb: Notebook, index: number): number =>
  nb.cells[index].metadata.nbstage?.peak_rss_bytes as number;

const MB = 1_000_000;

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.org',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.org',
    },
  }).trim();
}

describe('the environment record of a run', () => {
  afterAll(cleanupDirs);

  it('records what the kernel has installed, asked of the kernel itself, and adds no cell', async () => {
    const file = writeNotebook(makeNotebook(['1 + 1']));
    const res = await run([file]);
    expect(res.code).toBe(0);
    const nb = executed(file);
    const env = environmentOf(nb);
    const installed = execFileSync(
      venvPython(),
      ['-c', 'import importlib.metadata as m; print(m.version("ipykernel"))'],
      { encoding: 'utf8' },
    ).trim();
    expect((env.packages as JSONObject).ipykernel).toBe(installed);
    expect(env).toMatchObject({
      kernelspec: { name: 'python3', language: 'python' },
      python: { implementation: 'CPython' },
      libc: expect.stringMatching(/^glibc \d/),
      machine: { cpu: { count: expect.any(Number) }, memory_bytes: expect.any(Number) },
      nbstage_version: expect.any(String),
    });
    // Silent: the notebook has its one cell, run as In [1].
    expect(nb.cells).toHaveLength(1);
    expect(nb.cells[0]).toMatchObject({ execution_count: 1 });
  });

  it('records the commit of the checkout the notebook is in, and whether it was dirty', async () => {
    const repo = tempDir();
    git(repo, 'init', '-q');
    const file = writeNotebook(makeNotebook(['print("hi")']), 'nb.ipynb', repo);
    fs.writeFileSync(path.join(repo, 'data.csv'), 'a\n1\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    const commit = git(repo, 'rev-parse', 'HEAD');

    expect((await run([file])).code).toBe(0);
    expect(environmentOf(executed(file)).git).toMatchObject({ commit, dirty: false });

    fs.writeFileSync(path.join(repo, 'data.csv'), 'a\n2\n');
    expect((await run([file])).code).toBe(0);
    expect(environmentOf(executed(file)).git).toMatchObject({ commit, dirty: true });
  });

  it('records nothing of the kind with NBSTAGE_RECORD_ENVIRONMENT=0', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    expect((await run([file], { NBSTAGE_RECORD_ENVIRONMENT: '0' })).code).toBe(0);
    const env = environmentOf(executed(file));
    expect(env.packages).toBeUndefined();
    expect(env.language).toBe('python');
  });
});

describe('the memory of a run', () => {
  afterAll(cleanupDirs);

  it("records each cell's peak: 300 MB allocated and freed, then a small cell far less", async () => {
    const file = writeNotebook(
      makeNotebook(['x = b"\\x01" * 300_000_000\ndel x', 'y = [1, 2, 3]']),
    );
    const junit = file.replace(/\.ipynb$/, '.xml');
    const res = await run([file, '--junit', junit]);
    expect(res.code).toBe(0);
    const nb = executed(file);
    expect(peakOf(nb, 0)).toBeGreaterThanOrEqual(300 * MB);
    expect(peakOf(nb, 1)).toBeLessThan(150 * MB);
    // The JUnit test case and the console footer carry the same peak.
    expect(fs.readFileSync(junit, 'utf8')).toContain(
      `<property name="peak_rss_bytes" value="${peakOf(nb, 0)}"/>`,
    );
    expect(res.stdout).toMatch(/✓ [\d.]+ s, peak [\d.]+ MiB\n/);
  });

  it('with NBSTAGE_CELL_MEMORY=0 the kernel gets no hooks, and peaks are sampled from outside', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print(hasattr(get_ipython(), "_nbstage_resources"))',
        'x = b"\\x01" * 300_000_000',
      ]),
    );
    const res = await run([file], { NBSTAGE_CELL_MEMORY: '0' });
    expect([res.code, res.stdout]).toEqual([0, expect.stringContaining('False\n')]);
    const nb = executed(file);
    // Still held as the cell ends, so the reading at its end sees it.
    expect(peakOf(nb, 1)).toBeGreaterThanOrEqual(300 * MB);
    // Without the variable the same kernel code has them.
    const hooked = writeNotebook(
      makeNotebook(['print(hasattr(get_ipython(), "_nbstage_resources"))']),
    );
    expect((await run([hooked])).stdout).toContain('True\n');
  });

  it('--memory 256M stops a cell that allocates 1 GiB, naming the limit', async () => {
    const file = writeNotebook(
      makeNotebook(['print("small")', 'x = b"\\x01" * 2**30', 'print("never")']),
    );
    const res = await run([file, '--memory', '256M']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(
      "cell 1 raised MemoryError (the kernel's memory is limited to 256 MiB by --memory)",
    );
    expect((executed(file).cells[0] as CodeCell).outputs).toHaveLength(1);
  });

  it('refuses a size that is not one (exit 2)', async () => {
    const res = await run([writeNotebook(makeNotebook(['1'])), '--memory', 'lots']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--memory: "lots" is not a size');
  });

  it('names the signal, the cell and the peak of a kernel killed with SIGKILL (exit 4)', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print("alive")',
        'import os, signal, time\nx = b"\\x01" * 200_000_000\ntime.sleep(0.5)\n' +
          'os.kill(os.getpid(), signal.SIGKILL)',
      ]),
    );
    const res = await run([file]);
    expect(res.code).toBe(4);
    const match = /kernel python3 was killed by SIGKILL during cell 1 \(peak ([\d.]+) MiB/.exec(
      res.stderr,
    );
    expect(match).not.toBeNull();
    expect(Number(match?.[1]) * 2 ** 20).toBeGreaterThanOrEqual(200 * MB);
  });
});
