/**
 * Embedded mode: by default the CLI launches its kernel itself and starts no Jupyter server.
 * With NBSTAGE_REUSE_SERVER=1, or for a --session, the shared background server is reused across
 * runs with a warm spare kernel; each run still sees its own environment. NBSTAGE_REUSE_SERVER=0
 * runs a private server per run. Cancellation: SIGTERM during a long cell ends the run with exit
 * 130 within Jenkins' 5 s, with the partial notebook written.
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
import {
  commandLine,
  descendants,
  markedProcesses,
  SUITE_MARK,
  survivors,
} from '../../helpers/processes';

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

  it("by default starts no Jupyter server: the kernel is its own, with the run's environment", async () => {
    const file = writeNotebook(
      makeNotebook([
        'import os\nprint("flavour", os.environ.get("NBSTAGE_TEST_FLAVOUR"))\n' +
          'print("token", os.environ.get("NBSTAGE_TOKEN"))\n' +
          'p = os.getppid()\n' +
          'print("parent", open(f"/proc/{p}/cmdline").read().split(chr(0))[2], flush=True)\n' +
          'import time; time.sleep(0.5)',
      ]),
    );
    let tree: string[] = [];
    const res = await runCli(['run', '--no-progress', file], {
      env: { ...env, NBSTAGE_TEST_FLAVOUR: 'mint', NBSTAGE_TOKEN: 'must-not-leak' },
      onStdout: (chunk, child) => {
        if (chunk.includes('parent')) {
          tree = descendants(child.pid ?? 0).map(commandLine);
        }
      },
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('flavour mint');
    expect(res.stdout).toContain('token None');
    // The kernel's parent is nbstage's own wrapper, a child of the CLI: no server in between.
    expect(res.stdout).toContain('parent nbstage_init');
    expect(tree.join('\n')).toMatch(/nbstage_init -- .* -m ipykernel_launcher -f /);
    expect(tree.join('\n')).not.toMatch(/jupyter|nbstage_owned/);
    expect(fs.readdirSync(runtimeDir).filter((f) => /^jupyter-/.test(f))).toEqual([]);
  });

  it('launches its kernel before it reads the notebook and runs on that one kernel', async () => {
    const file = writeNotebook(
      makeNotebook(['import time\nprint("running", flush=True)\ntime.sleep(0.5)']),
    );
    let kernels = -1;
    const res = await runCli(['run', '--no-progress', file], {
      env,
      onStdout: (chunk, child) => {
        if (chunk.includes('running') && kernels < 0) {
          kernels = descendants(child.pid ?? 0)
            .map(commandLine)
            .filter((c) => / -m ipykernel_launcher /.test(c) && !c.includes('nbstage_init')).length;
        }
      },
    });
    expect(res.code).toBe(0);
    // The kernel launched early is the run's: no second one was started beside it.
    expect(kernels).toBe(1);
  });

  it('ends the kernel it launched early when the run stops on bad input (exit 2)', async () => {
    const mark = `early-${path.basename(tempDir())}`;
    const file = writeNotebook(makeNotebook(['print("never")']));
    const res = await runCli(['run', '--no-progress', file, '--stage', 'no-such-stage'], {
      env: { ...env, [SUITE_MARK]: mark },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('no-such-stage');
    expect(await survivors(markedProcesses(mark), 2000)).toEqual([]);
  });

  it('with NBSTAGE_REUSE_SERVER=1 starts a shared server once and reuses it, each run seeing its own environment', async () => {
    const file = writeNotebook(
      makeNotebook(['import os\nprint("flavour", os.environ.get("NBSTAGE_TEST_FLAVOUR"))']),
    );
    const shared = { ...env, NBSTAGE_REUSE_SERVER: '1' };
    const first = await runCli(['run', '--no-progress', file], {
      env: { ...shared, NBSTAGE_TEST_FLAVOUR: 'vanilla', NBSTAGE_TOKEN: 'must-not-leak' },
    });
    expect(first.stderr).toContain('executed notebook written');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('flavour vanilla');
    const pid = statePid();
    const second = await runCli(['run', '--no-progress', file], {
      env: { ...shared, NBSTAGE_TEST_FLAVOUR: 'chocolate' },
    });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('flavour chocolate');
    expect(statePid()).toBe(pid);
    const leak = writeNotebook(
      makeNotebook(['import os\nprint("token", os.environ.get("NBSTAGE_TOKEN"))']),
    );
    const third = await runCli(['run', '--no-progress', leak], {
      env: { ...shared, NBSTAGE_TOKEN: 'must-not-leak' },
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

  it('says clearly when it cannot start the kernel (exit 5)', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    const res = await runCli(['run', '--no-progress', file], {
      env: { ...env, NBSTAGE_PYTHON: '/nonexistent/python3' },
    });
    expect(res.code).toBe(5);
    expect(res.stderr).toMatch(
      /cannot start kernel python3: it exited with code 127 before it was ready: .*\/nonexistent\/python3.*nbstage doctor/,
    );
  });

  it('says which kernel never answered, and after how long (exit 5)', async () => {
    const jupyterPath = tempDir();
    const spec = path.join(jupyterPath, 'kernels', 'never-answers');
    fs.mkdirSync(spec, { recursive: true });
    fs.writeFileSync(
      path.join(spec, 'kernel.json'),
      JSON.stringify({ argv: ['sleep', '600'], display_name: 'Never', language: 'python' }),
    );
    const file = writeNotebook(makeNotebook(['1']));
    const res = await runCli(['run', '--no-progress', '-k', 'never-answers', file], {
      env: { ...env, JUPYTER_PATH: jupyterPath, NBSTAGE_KERNEL_START_TIMEOUT: '1.5' },
    });
    expect(res.code).toBe(5);
    expect(res.stderr).toContain(
      `kernel never-answers (${spec}) did not answer kernel_info within 1.5 s`,
    );
    const bad = await runCli(['run', '--no-progress', file], {
      env: { ...env, NBSTAGE_KERNEL_START_TIMEOUT: 'soon' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('NBSTAGE_KERNEL_START_TIMEOUT must be a positive number');
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
