/**
 * Kernelspecs are found where `jupyter kernelspec list` finds them: the same names, folders,
 * argv, env and interrupt modes as the .venv's jupyter reports, also with a JUPYTER_PATH folder
 * that shadows a kernelspec of the .venv.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findKernelSpecs, kernelSpecDirs } from '../../../kernels/zmq/kernelspecs';
import { venvPython } from '../../../kernels/python-env';
import { cleanupDirs, tempDir } from '../../helpers/temp-dirs';

interface Listed {
  kernelspecs: Record<
    string,
    {
      resource_dir: string;
      spec: {
        argv: string[];
        env: Record<string, string>;
        display_name: string;
        language: string;
        interrupt_mode: string;
      };
    }
  >;
}

function jupyterList(env: NodeJS.ProcessEnv): Listed {
  const jupyter = path.join(path.dirname(venvPython()), 'jupyter');
  const out = execFileSync(jupyter, ['kernelspec', 'list', '--json'], { env, encoding: 'utf8' });
  return JSON.parse(out) as Listed;
}

function expectSameAsJupyter(env: NodeJS.ProcessEnv): void {
  const listed = jupyterList(env).kernelspecs;
  const found = findKernelSpecs(env);
  expect([...found.keys()].sort()).toEqual(Object.keys(listed).sort());
  for (const [name, { resource_dir, spec }] of Object.entries(listed)) {
    expect(found.get(name)).toEqual({
      name,
      displayName: spec.display_name,
      language: spec.language,
      argv: spec.argv,
      env: spec.env,
      interruptMode: spec.interrupt_mode,
      resourceDir: resource_dir,
    });
  }
}

afterAll(() => cleanupDirs());

describe('findKernelSpecs', () => {
  it("finds what the .venv's `jupyter kernelspec list` finds", () => {
    expectSameAsJupyter(process.env);
    expect(findKernelSpecs().has('bash')).toBe(true);
  });

  it('JUPYTER_PATH comes first and shadows the .venv', () => {
    const jupyterPath = tempDir();
    for (const [name, mode] of [
      ['bash', 'message'],
      ['Other-Kernel', 'signal'],
    ]) {
      const dir = path.join(jupyterPath, 'kernels', name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'kernel.json'),
        JSON.stringify({
          argv: ['sleep', '1'],
          display_name: `shadow ${name}`,
          language: 'x',
          env: { A: '1' },
          interrupt_mode: mode,
        }),
      );
    }
    const env = { ...process.env, JUPYTER_PATH: jupyterPath };
    expect(kernelSpecDirs(env)[0]).toBe(path.join(jupyterPath, 'kernels'));
    expectSameAsJupyter(env);
    expect(findKernelSpecs(env).get('bash')?.interruptMode).toBe('message');
  });

  it('the .venv comes before the user data folder (JUPYTER_DATA_DIR), as in a virtualenv', () => {
    const dataDir = tempDir();
    for (const name of ['bash', 'user-only']) {
      const dir = path.join(dataDir, 'kernels', name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'kernel.json'),
        JSON.stringify({ argv: ['sleep', '1'], display_name: `user ${name}`, language: 'x' }),
      );
    }
    const env = { ...process.env, JUPYTER_DATA_DIR: dataDir };
    expectSameAsJupyter(env);
    expect(findKernelSpecs(env).get('bash')?.displayName).toBe('Bash');
    expect(findKernelSpecs(env).get('user-only')?.displayName).toBe('user user-only');
    expectSameAsJupyter({ ...env, JUPYTER_PREFER_ENV_PATH: '0' });
    expect(findKernelSpecs({ ...env, JUPYTER_PREFER_ENV_PATH: '0' }).get('bash')?.displayName).toBe(
      'user bash',
    );
  });
});
