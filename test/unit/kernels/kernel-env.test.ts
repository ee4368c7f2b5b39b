/**
 * What kernels inherit from a process they do not belong to: the base the service's workers and
 * the shared Jupyter server share (one definition), the scrubbed environment the shared server
 * starts with and the names it lists as inherited, and the setup code that takes those names out
 * of a kernel before a run sets its own environment, run for real in python and bash.
 */
import { spawnSync } from 'node:child_process';
import { jupyterServerCommand } from '../../../kernels/jupyter-server';
import {
  baseKernelVariable,
  jupyterLocationVariable,
  pythonEnvironmentVariable,
  sharedServerEnvironment,
} from '../../../kernels/kernel-env';
import { pythonHelpersDir } from '../../../kernels/python-env';
import { envSetupCode, INHERITED_ENV_NAMES } from '../../../pipelines/parameters/translators';
import { serviceKernelVariable } from '../../../server/workers/worker-runtime';

/** An environment as a Jenkins step with `withCredentials` would have it. */
const STEP_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/ci',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  CUDA_VISIBLE_DEVICES: '1',
  NVIDIA_DRIVER_CAPABILITIES: 'compute',
  LD_LIBRARY_PATH: '/usr/local/cuda/lib64',
  VIRTUAL_ENV: '/opt/venv',
  CONDA_PREFIX: '/opt/conda',
  CONDA_DEFAULT_ENV: 'base',
  JUPYTER_PATH: '/opt/jupyter',
  JUPYTER_TOKEN: 'jupyter-credential',
  NBSTAGE_NO_PIDNS: '1',
  NBSTAGE_SESSION: 'job-a',
  NBSTAGE_ADMIN_TOKEN: 'admin-credential',
  TMPDIR: '/var/lib/jenkins/workspace/job-a@tmp',
  PYTHONPATH: '/var/lib/jenkins/workspace/job-a/src',
  AWS_SECRET_ACCESS_KEY: 'aws-credential',
  TEST_CRED: 'step-credential',
  JOB_NAME: 'job-a',
};

describe('baseKernelVariable', () => {
  it('keeps where programs and locales are, and the host GPU settings', () => {
    for (const name of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TERM', 'CUDA_VISIBLE_DEVICES']) {
      expect([name, baseKernelVariable(name)]).toEqual([name, true]);
    }
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'NBSTAGE_ADMIN_TOKEN', 'TMPDIR', 'PYTHONPATH']) {
      expect([name, baseKernelVariable(name)]).toEqual([name, false]);
    }
  });

  it("is the service workers' allowlist (one definition)", () => {
    expect(serviceKernelVariable).toBe(baseKernelVariable);
  });

  it('says apart the Python environment and Jupyter locations', () => {
    expect(['VIRTUAL_ENV', 'CONDA_PREFIX', 'PYTHONHOME'].map(pythonEnvironmentVariable)).toEqual([
      true,
      true,
      true,
    ]);
    expect(pythonEnvironmentVariable('PYTHONPATH')).toBe(false);
    expect(jupyterLocationVariable('JUPYTER_PATH')).toBe(true);
    expect(jupyterLocationVariable('JUPYTER_TOKEN')).toBe(false);
  });
});

describe('sharedServerEnvironment', () => {
  it("keeps what kernels need to start and none of the step's own variables", () => {
    const env = sharedServerEnvironment(STEP_ENV);
    expect(Object.keys(env).sort()).toEqual(
      [
        'CONDA_DEFAULT_ENV',
        'CONDA_PREFIX',
        'CUDA_VISIBLE_DEVICES',
        'HOME',
        INHERITED_ENV_NAMES,
        'JUPYTER_PATH',
        'LANG',
        'LC_ALL',
        'LD_LIBRARY_PATH',
        'NBSTAGE_NO_PIDNS',
        'NVIDIA_DRIVER_CAPABILITIES',
        'PATH',
        'TZ',
        'VIRTUAL_ENV',
      ].sort(),
    );
    expect(JSON.stringify(env)).not.toMatch(/credential|job-a/);
  });

  it('lists the names a run replaces: the base and the Python environment, not the server settings', () => {
    expect(sharedServerEnvironment(STEP_ENV)[INHERITED_ENV_NAMES]).toBe(
      'CONDA_DEFAULT_ENV,CONDA_PREFIX,CUDA_VISIBLE_DEVICES,HOME,LANG,LC_ALL,LD_LIBRARY_PATH,' +
        'NVIDIA_DRIVER_CAPABILITIES,PATH,TZ,VIRTUAL_ENV',
    );
    expect(sharedServerEnvironment({})[INHERITED_ENV_NAMES]).toBe('');
  });

  it("is the Jupyter server's environment, with nbstage's helpers and its token only", () => {
    const { env } = jupyterServerCommand({
      python: 'python3',
      rootDir: '/',
      port: 1,
      token: 'server-token',
      env: { EXTRA: 'given' },
      inheritedEnv: sharedServerEnvironment(STEP_ENV),
    });
    expect(env.PYTHONPATH).toBe(pythonHelpersDir());
    expect(env.NBSTAGE_SERVER_TOKEN).toBe('server-token');
    expect(env.EXTRA).toBe('given');
    expect(env.TEST_CRED).toBeUndefined();
    expect(env.TMPDIR).toBeUndefined();
    expect(env.NBSTAGE_OWNER_PID).toBeUndefined();
  });

  it("is not used unless asked: a private server keeps its run's environment", () => {
    const { env } = jupyterServerCommand({ python: 'python3', port: 1, token: 't' });
    expect(env.PATH).toBe(process.env.PATH);
    expect(env[INHERITED_ENV_NAMES]).toBeUndefined();
  });
});

describe('envSetupCode with replaceInherited', () => {
  /** A kernel's environment: inherited A's values, listed, and a variable of its own. */
  const kernelEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    [INHERITED_ENV_NAMES]: 'CUDA_VISIBLE_DEVICES,LANG,PATH',
    CUDA_VISIBLE_DEVICES: '1',
    LANG: 'run-a-lang',
    JPY_PARENT_PID: '1',
  };
  const runEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', OWN: 'run-b' };

  function envAfter(command: string, args: string[], code: string): Record<string, string> {
    const result = spawnSync(command, args, { input: code, encoding: 'utf8', env: kernelEnv });
    expect(result.stderr).toBe('');
    return Object.fromEntries(
      result.stdout
        .split('\0')
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  }

  /** The run's variables and the kernel's own are there; what it inherited and listed is not. */
  function expectReplaced(env: Record<string, string>): void {
    expect(env).toMatchObject({ PATH: runEnv.PATH, OWN: 'run-b', JPY_PARENT_PID: '1' });
    for (const name of ['CUDA_VISIBLE_DEVICES', 'LANG', INHERITED_ENV_NAMES]) {
      expect([name, env[name]]).toEqual([name, undefined]);
    }
  }

  it('in python: the listed variables and the list are gone, the run sets its own', () => {
    const code =
      envSetupCode('python', runEnv, undefined, { replaceInherited: true }) +
      'import os, sys\n' +
      'sys.stdout.write("".join(f"{k}={v}\\0" for k, v in os.environ.items()))\n' +
      'assert "_nbstage_os" not in globals() and "_k" not in globals()\n';
    expectReplaced(envAfter('python3', ['-'], code));
  });

  it('in bash: the same, with no helper variable left', () => {
    const code =
      envSetupCode('bash', runEnv, undefined, { replaceInherited: true }) +
      'env -0\n' +
      'if [ -n "${_nbstage_names+x}${_nbstage_k+x}" ]; then echo left >&2; fi\n';
    expectReplaced(envAfter('bash', [], code));
  });

  it("in R: unsets the listed names and the list before it sets the run's own", () => {
    expect(envSetupCode('R', { A: 'x' }, undefined, { replaceInherited: true })).toBe(
      `invisible(Sys.unsetenv(c(setdiff(strsplit(Sys.getenv("${INHERITED_ENV_NAMES}"), ",", fixed = TRUE)[[1]], ""), "${INHERITED_ENV_NAMES}")))\n` +
        'invisible(Sys.setenv("A" = "x"))\n',
    );
  });

  it('is a no-op where nothing is listed, and code even with nothing to set', () => {
    const code = envSetupCode('python', {}, undefined, { replaceInherited: true });
    expect(code).toContain(INHERITED_ENV_NAMES);
    const result = spawnSync('python3', ['-'], {
      input: code + 'import os; print(os.environ["KEEP"])\n',
      encoding: 'utf8',
      env: { PATH: process.env.PATH, KEEP: 'kept' },
    });
    expect([result.stderr, result.stdout]).toEqual(['', 'kept\n']);
  });
});
