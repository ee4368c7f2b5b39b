/**
 * Which Python interpreter nbstage runs Jupyter with, where the nbstage package lives, and the
 * environment kernel processes start with. The Jupyter server, the kernels nbstage launches
 * itself, `nbstage doctor` and the workers all resolve them here, so they always agree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../pipelines/paths/package-root';

/** Where {@link resolvePython} found the interpreter. */
export type PythonSource = 'env' | 'venv' | 'path';

/** The interpreter nbstage uses, and why. */
export interface ResolvedPython {
  /** A path, or a bare command name looked up on PATH (source `path`). */
  python: string;
  /** `env`: `NBSTAGE_PYTHON`; `venv`: `<package root>/.venv`; `path`: `python3` on PATH. */
  source: PythonSource;
}

/** Name of the virtual environment folder `scripts/setup.sh` creates in the package root. */
export const VENV_DIR = '.venv';

export { packageRoot };

/** The interpreter of the virtual environment `scripts/setup.sh` makes (it may not exist). */
export function venvPython(root: string = packageRoot()): string {
  return process.platform === 'win32'
    ? path.join(root, VENV_DIR, 'Scripts', 'python.exe')
    : path.join(root, VENV_DIR, 'bin', 'python');
}

/**
 * The Python nbstage runs Jupyter with: `NBSTAGE_PYTHON` when set (non-empty), else the
 * package's `.venv` when it exists, else `python3` from PATH. Nothing is executed here; whether
 * that interpreter works and has jupyter_server is `nbstage doctor`'s job.
 */
export function resolvePython(env: NodeJS.ProcessEnv = process.env): ResolvedPython {
  const fromEnv = env.NBSTAGE_PYTHON;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { python: fromEnv, source: 'env' };
  }
  const venv = venvPython();
  if (fs.existsSync(venv)) {
    return { python: venv, source: 'venv' };
  }
  return { python: process.platform === 'win32' ? 'python' : 'python3', source: 'path' };
}

/** The folder of nbstage's Python helpers (`nbstage_init`, `nbstage_owned`, `nbstage`). */
export function pythonHelpersDir(): string {
  return path.join(packageRoot(), 'kernels', 'python');
}

/**
 * The environment of a process that runs kernels (a Jupyter server) or is one (a kernel nbstage
 * launches itself): `inherited` (this process's environment unless told otherwise: the shared
 * server passes a scrubbed one) and `extra`, nbstage's Python helpers on PYTHONPATH, unbuffered
 * Python, and no owner pid nor credentials of nbstage or Jupyter.
 */
export function kernelProcessEnv(
  extra?: NodeJS.ProcessEnv,
  inherited: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...inherited, ...extra };
  // The kernels import nbstage's helpers (`from nbstage import record`) from here.
  env.PYTHONPATH = [pythonHelpersDir(), env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  env.PYTHONUNBUFFERED = '1';
  delete env.NBSTAGE_OWNER_PID;
  // Credentials of nbstage and Jupyter never reach the kernels (notebooks read os.environ).
  for (const name of Object.keys(env)) {
    if (/^(JUPYTER_TOKEN|NBSTAGE_.*TOKEN|NBSTAGE_JENKINS_.*)$/.test(name)) {
      delete env[name];
    }
  }
  return env;
}
