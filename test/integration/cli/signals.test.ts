/**
 * Embedded mode: the CLI starts (or reuses) a local Jupyter server itself. The shared server is
 * reused across runs with a warm spare kernel; each run still sees its own environment.
 * Cancellation: SIGTERM during a long cell ends the run with exit 130 within Jenkins' 5 s, with
 * the partial notebook written. NBSTAGE_REUSE_SERVER=0 runs a private server per run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stopSharedServer } from '../../../kernels/shared-server';
import type { Notebook } from '../../../pipelines/notebook/model';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  signalOnOutput,
  tempDir,
  writeNotebook,
} from '../../helpers/notebooks';

describe('nbstage run, embedded', () => {
  const runtimeDir = tempDir();
  const env = { NBSTAGE_JUPYTER_URL: '', NBSTAGE_RUNTIME_DIR: runtimeDir };
  afterAll(async () => {
    await stopSharedServer({ runtimeDir });
    cleanupDirs();
  });

  const statePid = (): number => {
    const file = fs.readdirSync(runtimeDir).find((f) => /^jupyter-.*\.json$/.test(f));
    expect(file).toBeDefined();
    return (readJson<{ pid: number }>(path.join(runtimeDir, file ?? '')) as { pid: number }).pid;
  };

  it('starts a shared server once and reuses it, each run seeing its own environment', async () => {
    const file = writeNotebook(
      makeNotebook(['import os\nprint("flavour", os.environ.get("NBSTAGE_TEST_FLAVOUR"))']),
    );
    const first = await runCli(['run', '--no-progress', file], {
      env: { ...env, NBSTAGE_TEST_FLAVOUR: 'vanilla', NBSTAGE_TOKEN: 'must-not-leak' },
    });
    expect(first.stderr).toContain('executed notebook written');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('flavour vanilla');
    const pid = statePid();
    const second = await runCli(['run', '--no-progress', file], {
      env: { ...env, NBSTAGE_TEST_FLAVOUR: 'chocolate' },
    });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('flavour chocolate');
    expect(statePid()).toBe(pid);
    const leak = writeNotebook(
      makeNotebook(['import os\nprint("token", os.environ.get("NBSTAGE_TOKEN"))']),
    );
    const third = await runCli(['run', '--no-progress', leak], {
      env: { ...env, NBSTAGE_TOKEN: 'must-not-leak' },
    });
    expect(third.stdout).toContain('token None');
  });

  it('carries kernel state from stage to stage across runs of one --session', async () => {
    const nb = makeNotebook([
      'import os\nprint("preamble ran")',
      { source: 'x = 41', tags: ['stage:prepare'] },
      { source: 'print("x + 1 =", x + 1)', tags: ['stage:train'] },
    ]);
    const file = writeNotebook(nb);
    const session = `test-${path.basename(path.dirname(file))}`;
    const first = await runCli(
      ['run', '--no-progress', file, '--stage', 'prepare', '--session', session],
      { env },
    );
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('preamble ran');
    const second = await runCli(
      ['run', '--no-progress', file, '--stage', 'train', '--session', session],
      { env },
    );
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('x + 1 = 42');
    expect(second.stdout).not.toContain('preamble ran');
    const out = readJson<Notebook>(file.replace('.ipynb', '.executed.ipynb'));
    expect(out.metadata.nbstage).toMatchObject({ session, stages: ['train'] });
    const other = await runCli(
      ['run', '--no-progress', file, '--stage', 'train', '--session', `${session}-b`],
      { env },
    );
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/NameError/);
  });

  it('says clearly when it cannot start Jupyter (exit 5)', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    const res = await runCli(['run', '--no-progress', file], {
      env: { ...env, NBSTAGE_PYTHON: '/nonexistent/python3', NBSTAGE_REUSE_SERVER: '0' },
    });
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(
      /cannot start Jupyter server with \/nonexistent\/python3.*nbstage doctor/,
    );
  });

  it('runs on a private server with NBSTAGE_REUSE_SERVER=0', async () => {
    const dir = tempDir();
    const file = writeNotebook(makeNotebook(['print("private ok")']));
    const res = await runCli(['run', '--no-progress', file], {
      env: { NBSTAGE_JUPYTER_URL: '', NBSTAGE_REUSE_SERVER: '0', NBSTAGE_RUNTIME_DIR: dir },
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('private ok');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('exits 130 within 5 s of SIGTERM during a long cell, keeping the partial notebook', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print("step one", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(120)',
        'print("never")',
      ]),
    );
    const sigterm = signalOnOutput(/sleeping/, 'SIGTERM');
    const res = await runCli(['run', '--no-progress', file], { env, onStdout: sigterm.onStdout });
    const elapsed = Date.now() - sigterm.sentAt();
    expect(sigterm.sentAt()).toBeGreaterThan(0);
    expect(res.code).toBe(130);
    expect(elapsed).toBeLessThan(5000);
    const out = readJson<Notebook>(file.replace('.ipynb', '.executed.ipynb'));
    expect(cellText(out, 0)).toBe('step one\n');
    expect(cellText(out, 1)).toContain('sleeping');
    expect(out.metadata.nbstage).toMatchObject({
      status: 'cancelled',
      exception: { cell_index: 1 },
    });
    expect(out.cells[1].metadata.nbstage).toMatchObject({ status: 'cancelled' });
  });
});
