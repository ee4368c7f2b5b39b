/**
 * The shared Jupyter server's log never holds a run's secret, with a real `--session` run: a
 * cell writes its secret to the kernel's real fd 1 and fd 2, from subprocesses (inheriting the
 * fds, or given `sys.stdout`, whose fileno ipykernel points at the real stdout), through
 * `sys.__stdout__` and through the C library; ipykernel echoes all of it to the kernel's real
 * stdout/stderr, which were the log. Afterwards no file under the runtime folder holds the
 * secret, the console shows it masked, and the log still says why a kernel could not start.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jupyterJson } from '../../../kernels/jupyter-rest';
import {
  connectSharedServer,
  stopSharedServers,
  type SharedServer,
} from '../../../kernels/shared-server';
import { cleanupDirs, makeNotebook, runCli, tempDir, writeNotebook } from '../../helpers/notebooks';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
  });
}

/** The files under `dir` that hold `text`. */
function filesHolding(dir: string, text: string): string[] {
  return filesUnder(dir).filter((file) => fs.readFileSync(file).includes(text));
}

/** What the shared server in `dir` logged so far. */
function serverLog(dir: string): string {
  return fs
    .readdirSync(dir)
    .filter((f) => /^jupyter-[0-9a-f]+\.log$/.test(f))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('');
}

/** Cells writing the secret in SECRET_NAME past ipykernel's streams, each line marked. */
function writesPastTheStreams(name: string): string[] {
  return [
    `import ctypes, os, subprocess, sys\nS = os.environ[${JSON.stringify(name)}]`,
    "os.write(1, f'FD1 {S}\\n'.encode())\nos.write(2, f'FD2 {S}\\n'.encode())",
    `subprocess.run(['sh', '-c', 'echo SUB-OUT "$${name}"; echo SUB-ERR "$${name}" >&2'])`,
    `subprocess.run(['sh', '-c', 'echo SUB-SYS "$${name}"'], stdout=sys.stdout, stderr=sys.stderr)`,
    "sys.__stdout__.write(f'DUNDER {S}\\n')\nsys.__stdout__.flush()",
    "libc = ctypes.CDLL(None)\nlibc.printf(f'LIBC {S}\\n'.encode())\nlibc.fflush(None)",
  ];
}

describe("the shared server's log and a run's secrets", () => {
  const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-runtime-'));
  const env = { NBSTAGE_JUPYTER_URL: '', NBSTAGE_RUNTIME_DIR: runtimeDir };
  afterAll(async () => {
    await stopSharedServers(runtimeDir);
    fs.rmSync(runtimeDir, { recursive: true, force: true });
    cleanupDirs();
  });

  it('what a --session kernel writes to its real fd 1 and 2 is in no file under the runtime folder', async () => {
    const name = 'TEST_SECRET';
    const secret = `s3cret-${randomUUID()}`;
    const session = `test-${randomUUID()}`;
    const nb = writeNotebook(makeNotebook(writesPastTheStreams(name)));
    const args = ['run', '--no-progress', '--session', session, '--secret', name, nb];
    const first = await runCli(args, { env: { ...env, [name]: secret } });
    expect([first.code, first.stderr]).toEqual([0, expect.any(String)]);
    // The same session's kernel again: nothing it writes reaches the log either.
    const again = await runCli(args, { env: { ...env, [name]: secret } });
    expect(again.code).toBe(0);
    for (const res of [first, again]) {
      const console = res.stdout + res.stderr;
      expect(console).not.toContain(secret);
      // ipykernel brings fd-level writes to the notebook, where they are masked (SUB-SYS went
      // to the kernel's real stdout only, which is dropped: it is shown nowhere).
      for (const mark of ['FD1', 'FD2', 'SUB-OUT', 'SUB-ERR', 'DUNDER', 'LIBC']) {
        expect(console).toContain(`${mark} ****`);
      }
    }
    expect(serverLog(runtimeDir)).not.toBe('');
    expect(filesHolding(runtimeDir, secret)).toEqual([]);
    // The kernel's pipe drained and the server gone: still nowhere.
    await stopSharedServers(runtimeDir);
    expect(filesHolding(runtimeDir, secret)).toEqual([]);
  }, 120000);

  it('a kernel that cannot start still says why in the log, marked with its id', async () => {
    const ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-runtime-'));
    const jupyterPath = tempDir();
    const kernel = `test-broken-${randomUUID()}`;
    const mark = `cannot-start-${randomUUID()}`;
    fs.mkdirSync(path.join(jupyterPath, 'kernels', kernel), { recursive: true });
    fs.writeFileSync(
      path.join(jupyterPath, 'kernels', kernel, 'kernel.json'),
      JSON.stringify({
        argv: ['sh', '-c', `echo ${mark} >&2; exit 3`, '{connection_file}'],
        display_name: 'Broken',
        language: 'python',
      }),
    );
    // The server finds kernelspecs where the environment that started it says (JUPYTER_PATH).
    const saved = process.env.JUPYTER_PATH;
    process.env.JUPYTER_PATH = jupyterPath;
    let shared: SharedServer;
    try {
      shared = await connectSharedServer({ runtimeDir: ownDir });
    } finally {
      if (saved === undefined) {
        delete process.env.JUPYTER_PATH;
      } else {
        process.env.JUPYTER_PATH = saved;
      }
    }
    try {
      expect(shared.started).toBe(true);
      const started = await jupyterJson<{ id: string }>(shared.endpoint, 'POST', 'api/kernels', {
        body: { name: kernel },
      });
      let log = '';
      for (let i = 0; i < 100 && !log.includes(mark); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = serverLog(ownDir);
      }
      expect(log).toContain(`[kernel ${started.id}] ${mark}\n`);
    } finally {
      await stopSharedServers(ownDir);
      fs.rmSync(ownDir, { recursive: true, force: true });
    }
  }, 60000);
});
