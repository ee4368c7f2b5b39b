/**
 * Kernelspecs where `jupyter kernelspec list` finds them: `kernels/` under JUPYTER_PATH, the
 * Python environment nbstage runs Jupyter with (the project's `.venv`), the user's data folder
 * and the system's, in jupyter_core's order; the first folder holding a name wins.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolvePython } from '../python-env';

/** How a kernel wants to be interrupted (kernel.json `interrupt_mode`). */
export type InterruptMode = 'signal' | 'message';

/** A kernelspec as nbstage launches it. */
export interface ZmqKernelSpec {
  /** The name (its folder's name, lower-cased). */
  name: string;
  displayName: string;
  language: string;
  /** The command; `{connection_file}` and `{resource_dir}` are substituted at launch. */
  argv: string[];
  /** Extra environment of the kernel (`${VAR}` expanded at launch). */
  env: Record<string, string>;
  interruptMode: InterruptMode;
  /** The folder holding kernel.json. */
  resourceDir: string;
}

/** The kernelspec every Python with ipykernel has (jupyter_client's native kernel). */
export const NATIVE_KERNEL = 'python3';

const VALID_NAME = /^[a-z0-9._-]+$/i;
const SYSTEM_PATHS = ['/usr/local/share/jupyter', '/usr/share/jupyter'];

function isTrue(value: string | undefined): boolean {
  return value !== undefined && !['0', 'false', 'no', 'off', 'n', ''].includes(value.toLowerCase());
}

/** The prefix (`sys.prefix`) of the Python at `python`: a venv's folder, not its base. */
function pythonPrefix(python: string, env: NodeJS.ProcessEnv): string | null {
  let found = python;
  if (!python.includes(path.sep)) {
    const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
    const hit = dirs.map((d) => path.join(d, python)).find((p) => fs.existsSync(p));
    if (hit === undefined) {
      return null;
    }
    found = hit;
  }
  return path.dirname(path.dirname(path.resolve(found)));
}

/**
 * The folders holding kernelspecs, in the order `jupyter kernelspec list` searches them:
 * JUPYTER_PATH, then the environment's and the user's data folders (the environment first when
 * it is a virtual environment or JUPYTER_PREFER_ENV_PATH says so), then the system's.
 */
export function kernelSpecDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const data: string[] = [];
  for (const p of (env.JUPYTER_PATH ?? '').split(path.delimiter)) {
    if (p !== '') {
      data.push(p.replace(/\/+$/, ''));
    }
  }
  const home = env.HOME ?? os.homedir();
  const userData =
    env.JUPYTER_DATA_DIR ??
    path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'jupyter');
  const user = [userData];
  const userBase = path.join(home, '.local', 'share', 'jupyter');
  if (!user.includes(userBase)) {
    user.push(userBase);
  }
  const prefix = pythonPrefix(resolvePython(env).python, env);
  const envData =
    prefix === null
      ? []
      : [path.join(prefix, 'share', 'jupyter')].filter((p) => !SYSTEM_PATHS.includes(p));
  const isVenv = prefix !== null && fs.existsSync(path.join(prefix, 'pyvenv.cfg'));
  const preferEnv =
    env.JUPYTER_PREFER_ENV_PATH !== undefined ? isTrue(env.JUPYTER_PREFER_ENV_PATH) : isVenv;
  data.push(...(preferEnv ? [...envData, ...user] : [...user, ...envData]), ...SYSTEM_PATHS);
  return [...new Set(data)].map((d) => path.join(d, 'kernels'));
}

/** Reads the kernelspec in `dir` (its kernel.json), or null when it is not a valid one. */
export function readKernelSpec(dir: string, name = path.basename(dir)): ZmqKernelSpec | null {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8'));
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object') {
    return null;
  }
  const spec = raw as Record<string, unknown>;
  const argv = spec.argv;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    return null;
  }
  const env: Record<string, string> = {};
  if (spec.env !== null && typeof spec.env === 'object') {
    for (const [k, v] of Object.entries(spec.env as Record<string, unknown>)) {
      if (typeof v === 'string') {
        env[k] = v;
      }
    }
  }
  return {
    name: name.toLowerCase(),
    displayName: typeof spec.display_name === 'string' ? spec.display_name : name,
    language: typeof spec.language === 'string' ? spec.language : '',
    argv: argv as string[],
    env,
    interruptMode: spec.interrupt_mode === 'message' ? 'message' : 'signal',
    resourceDir: dir,
  };
}

/**
 * Every kernelspec found, by name, the first folder of {@link kernelSpecDirs} winning. Without
 * a `python3` anywhere, the native kernel of nbstage's Python stands in (as jupyter_client adds
 * ipykernel's own); starting it fails if that Python has no ipykernel.
 */
export function findKernelSpecs(env: NodeJS.ProcessEnv = process.env): Map<string, ZmqKernelSpec> {
  const found = new Map<string, ZmqKernelSpec>();
  for (const dir of kernelSpecDirs(env)) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries.sort()) {
      const key = entry.toLowerCase();
      if (found.has(key) || !VALID_NAME.test(key)) {
        continue;
      }
      const spec = readKernelSpec(path.join(dir, entry), key);
      if (spec !== null) {
        found.set(key, spec);
      }
    }
  }
  if (!found.has(NATIVE_KERNEL)) {
    found.set(NATIVE_KERNEL, {
      name: NATIVE_KERNEL,
      displayName: 'Python 3 (ipykernel)',
      language: 'python',
      argv: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
      env: {},
      interruptMode: 'signal',
      resourceDir: '',
    });
  }
  return found;
}
