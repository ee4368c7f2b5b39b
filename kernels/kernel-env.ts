/**
 * Which variables of a process's environment a kernel may inherit when that process is not the
 * run the kernel serves: the base every kernel needs to start and work (shared by the service's
 * workers and the shared Jupyter server of embedded runs), and the scrubbed environment the
 * shared server starts with, so that no run's variables (a `withCredentials` secret) reach the
 * kernels of later runs. A run's own environment reaches its kernel through its setup code.
 */
import { INHERITED_ENV_NAMES } from '../pipelines/parameters/translators';

/**
 * The base a kernel may inherit from a process it does not belong to: where programs and locales
 * are, the terminal and time zone, the dynamic linker's path and the CUDA/NVIDIA settings of the
 * host; never credentials or configuration of a run or a service.
 */
export function baseKernelVariable(name: string): boolean {
  return /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|CUDA_[A-Z_]+|NVIDIA_[A-Z_]+|LD_LIBRARY_PATH)$/.test(
    name,
  );
}

/**
 * What a Python environment needs to work in the processes it runs: a virtualenv's
 * `VIRTUAL_ENV`, conda's `CONDA_*` (activation state, `CONDA_PREFIX`) and `PYTHONHOME` where an
 * installation needs it.
 */
export function pythonEnvironmentVariable(name: string): boolean {
  return /^(VIRTUAL_ENV|CONDA_[A-Z0-9_]+|PYTHONHOME)$/.test(name);
}

/**
 * Where Jupyter finds kernelspecs and keeps its files (`JUPYTER_PATH`, `JUPYTER_DATA_DIR`, ...):
 * the configuration of a Jupyter server, not of a run (`JUPYTER_TOKEN` is not one of them).
 */
export function jupyterLocationVariable(name: string): boolean {
  return /^JUPYTER_(PATH|DATA_DIR|CONFIG_DIR|CONFIG_PATH|RUNTIME_DIR|PLATFORM_DIRS|PREFER_ENV_PATH)$/.test(
    name,
  );
}

/** nbstage's own settings its helpers read in a Jupyter server's kernels (`nbstage_init`). */
function kernelWrapperSetting(name: string): boolean {
  return name === 'NBSTAGE_NO_PIDNS';
}

/**
 * The environment the shared Jupyter server of embedded runs starts with, taken from `env` (the
 * environment of the run that happens to start it): the {@link baseKernelVariable base}, the
 * {@link pythonEnvironmentVariable Python environment}, {@link jupyterLocationVariable Jupyter's
 * locations} and nbstage's kernel wrapper settings, nothing else; not `TMPDIR` either, which may
 * be the starting run's folder (a deleted Jenkins `@tmp`), nor `PYTHONPATH`, which would put that
 * run's modules first for every later run.
 *
 * The names of the base and Python variables kept are listed in {@link INHERITED_ENV_NAMES}:
 * they are the starting run's values, and the setup of every run on the server takes them out of
 * its kernel before it sets its own environment, so a kernel of run B never holds a variable of
 * run A (Jupyter's locations and the wrapper's settings configure the server and stay).
 */
export function sharedServerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const replaced: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) {
      continue;
    }
    if (baseKernelVariable(name) || pythonEnvironmentVariable(name)) {
      out[name] = value;
      replaced.push(name);
    } else if (jupyterLocationVariable(name) || kernelWrapperSetting(name)) {
      out[name] = value;
    }
  }
  out[INHERITED_ENV_NAMES] = replaced.sort().join(',');
  return out;
}
