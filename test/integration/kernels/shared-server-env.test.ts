/**
 * No run's environment reaches another run's kernel on the shared Jupyter server, with real
 * runs, kernels and server: the run that starts the server with a credential in its environment
 * (a `withCredentials` step) leaves it neither in the server's environment nor in the kernels
 * the server starts for later runs, and a later run (python or bash kernel, a spare or a new
 * one, with `NBSTAGE_REUSE_SERVER=1` or another `--session`) sees its own variables and none of
 * the first run's, also none of the base variables (CUDA_*) it does not have itself.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopSharedServers } from '../../../kernels/shared-server';
import { cleanupDirs, makeNotebook, runCli, writeNotebook } from '../../helpers/notebooks';

/** A variable name of the base the shared server keeps (CUDA_ and capitals only). */
function cudaName(): string {
  const letters = [...randomBytes(8)].map((b) => String.fromCharCode(65 + (b % 26))).join('');
  return `CUDA_NBSTAGE_TEST_${letters}`;
}

/** A fresh runtime folder, so each block starts and stops a shared server of its own. */
function runtimeFolder(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'test-runtime-'));
}

/** The pid of the shared server whose state is in `dir`, or null when there is none. */
function serverPid(dir: string): number | null {
  const file = fs.readdirSync(dir).find((f) => /^jupyter-[0-9a-f]+\.json$/.test(f));
  if (file === undefined) {
    return null;
  }
  return (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { pid: number }).pid;
}

/**
 * A notebook printing `NAME=value` (or `NAME=<unset>`) for each name, in python or bash; python
 * also prints which of `names` but the first were in the environment its kernel process started
 * with (`started-with [...]`), before any setup code ran.
 */
function printsVariables(names: string[], kernel: 'python3' | 'bash' = 'python3'): string {
  const source =
    kernel === 'bash'
      ? `for n in ${names.join(' ')}; do printf '%s=%s\\n' "$n" "\${!n-<unset>}"; done`
      : 'import os\n' +
        `for n in ${JSON.stringify(names)}:\n` +
        '    print(f"{n}={os.environ.get(n, \'<unset>\')}")\n' +
        "block = open('/proc/self/environ', 'rb').read()\n" +
        `print("started-with", [n for n in ${JSON.stringify(names.slice(0, 1))} if (n + "=").encode() in block])`;
  return writeNotebook(makeNotebook([source], kernel));
}

describe("the shared server keeps no run's variables for the next run (NBSTAGE_REUSE_SERVER=1)", () => {
  const runtimeDir = runtimeFolder();
  const env = {
    NBSTAGE_JUPYTER_URL: '',
    NBSTAGE_RUNTIME_DIR: runtimeDir,
    NBSTAGE_REUSE_SERVER: '1',
  };
  const cred = `TEST_CRED_${randomUUID().replace(/-/g, '_')}`;
  const credValue = `cred-${randomUUID()}`;
  const cuda = cudaName();
  const own = `TEST_OWN_${randomUUID().replace(/-/g, '_')}`;
  const names = [cred, cuda, own];

  afterAll(async () => {
    await stopSharedServers(runtimeDir);
    fs.rmSync(runtimeDir, { recursive: true, force: true });
    cleanupDirs();
  });

  it('run A starts the server with a credential it sees itself; the server does not hold it', async () => {
    expect(serverPid(runtimeDir)).toBeNull();
    const a = await runCli(['run', '--no-progress', printsVariables(names)], {
      env: { ...env, [cred]: credValue, [cuda]: 'a-only' },
    });
    expect([a.code, a.stderr]).toEqual([0, expect.any(String)]);
    expect(a.stdout).toContain(`${cred}=${credValue}`);
    expect(a.stdout).toContain(`${cuda}=a-only`);
    expect(a.stdout).toContain(`${own}=<unset>`);
    // Its kernel got the credential from its setup code, not from the server's environment.
    expect(a.stdout).toContain('started-with []');
    const pid = serverPid(runtimeDir);
    expect(pid).not.toBeNull();
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    expect(environ).not.toContain(cred);
    expect(environ).not.toContain(credValue);
    // A variable of the base is kept (kernels may need it to start), and listed: every run's
    // setup takes it out of its kernel before it sets its own.
    expect(environ).toMatch(new RegExp(`(^|\0)NBSTAGE_INHERITED_ENV=[^\0]*\\b${cuda}\\b`));
  }, 120000);

  it('run B, on the same server, sees its own variable and none of run A', async () => {
    const pid = serverPid(runtimeDir);
    const b = await runCli(['run', '--no-progress', printsVariables(names)], {
      env: { ...env, [own]: 'b-own' },
    });
    expect(b.code).toBe(0);
    expect(serverPid(runtimeDir)).toBe(pid);
    expect(b.stdout).toContain(`${own}=b-own`);
    expect(b.stdout).toContain(`${cred}=<unset>`);
    expect(b.stdout).toContain(`${cuda}=<unset>`);
    expect(b.stdout).toContain('started-with []');
    expect(b.stdout).not.toContain(credValue);
  }, 120000);

  it('run C, a bash kernel the server starts new, sees only its own too', async () => {
    const pid = serverPid(runtimeDir);
    const c = await runCli(['run', '--no-progress', printsVariables(names, 'bash')], {
      env: { ...env, [own]: 'c-own' },
    });
    expect(c.code).toBe(0);
    expect(serverPid(runtimeDir)).toBe(pid);
    expect(c.stdout).toContain(`${own}=c-own`);
    expect(c.stdout).toContain(`${cred}=<unset>`);
    expect(c.stdout).toContain(`${cuda}=<unset>`);
    expect(c.stdout).not.toContain(credValue);
    // What the server listed as inherited is gone from the kernel with the rest.
    expect(c.stdout).not.toContain('NBSTAGE_INHERITED_ENV');
  }, 120000);
});

describe('two runs of different --session on one shared server', () => {
  const runtimeDir = runtimeFolder();
  const env = { NBSTAGE_JUPYTER_URL: '', NBSTAGE_RUNTIME_DIR: runtimeDir };
  const cred = `TEST_CRED_${randomUUID().replace(/-/g, '_')}`;
  const credValue = `cred-${randomUUID()}`;
  const own = `TEST_OWN_${randomUUID().replace(/-/g, '_')}`;
  const names = [cred, own];

  afterAll(async () => {
    await stopSharedServers(runtimeDir);
    fs.rmSync(runtimeDir, { recursive: true, force: true });
    cleanupDirs();
  });

  it("the second session's kernel sees its own variable and not the first session's credential", async () => {
    const a = await runCli(
      ['run', '--no-progress', '--session', `test-a-${randomUUID()}`, printsVariables(names)],
      { env: { ...env, [cred]: credValue } },
    );
    expect(a.code).toBe(0);
    expect(a.stdout).toContain(`${cred}=${credValue}`);
    const pid = serverPid(runtimeDir);
    expect(pid).not.toBeNull();
    const b = await runCli(
      ['run', '--no-progress', '--session', `test-b-${randomUUID()}`, printsVariables(names)],
      { env: { ...env, [own]: 'b-own' } },
    );
    expect(b.code).toBe(0);
    expect(serverPid(runtimeDir)).toBe(pid);
    expect(b.stdout).toContain(`${own}=b-own`);
    expect(b.stdout).toContain(`${cred}=<unset>`);
    expect(b.stdout).toContain('started-with []');
    expect(b.stdout).not.toContain(credValue);
  }, 120000);
});
