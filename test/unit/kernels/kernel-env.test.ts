/**
 * What kernels inherit from a process they do not belong to, and the setup code that takes what
 * a kernel lists as inherited out of it before a run sets its own environment, run for real in
 * python and bash.
 */
import { spawnSync } from 'node:child_process';
import { envSetupCode, INHERITED_ENV_NAMES } from '../../../pipelines/parameters/translators';

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
