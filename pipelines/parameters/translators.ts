/**
 * Parameter values as code in the kernel's language, papermill-compatible (python, R, bash), and
 * the code that sets environment variables and the working directory in a kernel (taking out
 * first, where asked, the variables the kernel inherited from another run). Each language's own
 * rules live in `languages/`; this module puts their lines together.
 */
import { ParameterError } from '../errors';
import type { JSONValue } from '../notebook/model';
import type { ParameterLanguage } from './languages/language';
import { rejectNul } from './languages/quoting';
import { parameterLanguage } from './languages/registry';

export type { KernelLanguage } from './languages/language';
export { normalizeLanguage } from './languages/registry';

function commentLine(comment: string): string {
  return `# ${comment}`.trim();
}

/**
 * The code that assigns parameters in a kernel language, as papermill writes it: a comment line
 * (`# Parameters`) then one assignment per line, each line ending with a newline.
 *
 * - python: `None`/`True`/`False`, numbers (`float('nan')`, `float('inf')`), `"..."` strings,
 *   lists and dicts.
 * - R: `NULL`/`TRUE`/`FALSE`, numbers (`NaN`, `Inf`), strings, `list(...)` for lists and
 *   `list("k" = v)` for objects; leading underscores are dropped from names.
 * - bash: `NAME='value'` (single-quoted), `NAME=(a 'b')` arrays for lists, objects as JSON strings,
 *   `NAME=''` for null.
 *
 * @param language - kernel language or alias (`python3`, `ipython`, `R`, `bash`, `sh`, ...)
 * @param params - the parameter values
 * @param comment - text of the first comment line
 * @throws ParameterError for an unknown language, a name the language cannot use, or a value it
 *   cannot hold
 */
export function translateParameters(
  language: string,
  params: Record<string, JSONValue>,
  comment = 'Parameters',
): string {
  const lang = parameterLanguage(language);
  let code = commentLine(comment) + '\n';
  for (const [name, value] of Object.entries(params)) {
    code += lang.assignment(lang.variableName(name), value, `parameter "${name}"`) + '\n';
  }
  return code;
}

function checkEnv(lang: ParameterLanguage, env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0')) {
      throw new ParameterError(`environment variable name "${name}" is not valid`);
    }
    lang.checkEnvName(name);
    rejectNul(value, `environment variable "${name}"`);
  }
}

/**
 * The variable of a kernel's environment that lists, comma-separated, the names of variables it
 * inherited from a run it does not serve (the shared Jupyter server's starter, see
 * kernels/kernel-env.ts). Names only, never values.
 */
export const INHERITED_ENV_NAMES = 'NBSTAGE_INHERITED_ENV';

/** Options of {@link envSetupCode}. */
export interface EnvSetupOptions {
  /**
   * Take out of the kernel's environment, before `env` is set, every variable that
   * {@link INHERITED_ENV_NAMES} lists, and that list itself: the run then sees its own
   * environment and none of another run's.
   */
  replaceInherited?: boolean;
}

/**
 * Code that, run silently in a kernel, sets environment variables and (optionally) changes the
 * working directory. Empty when there is nothing to do.
 *
 * - python: `import os as _nbstage_os`, `_nbstage_os.environ.update({...})`,
 *   `_nbstage_os.chdir(...)`, `del _nbstage_os`
 * - bash: `export NAME='...'`, `cd -- '...'`
 * - R: `Sys.setenv("NAME" = "...")`, `setwd("...")`
 *
 * With `replaceInherited`, each first unsets the variables the kernel's
 * {@link INHERITED_ENV_NAMES} lists (`environ.pop`, `unset -v`, `Sys.unsetenv`).
 *
 * @param language - kernel language or alias
 * @param env - variables to set
 * @param cwd - working directory to change to
 * @param options - whether inherited variables are taken out first
 * @throws ParameterError for an unknown language or a name/value the environment cannot hold
 */
export function envSetupCode(
  language: string,
  env: Record<string, string>,
  cwd?: string,
  options: EnvSetupOptions = {},
): string {
  const lang = parameterLanguage(language);
  checkEnv(lang, env);
  const entries = Object.entries(env);
  const unsetListedIn = options.replaceInherited === true ? INHERITED_ENV_NAMES : undefined;
  if (entries.length === 0 && cwd === undefined && unsetListedIn === undefined) {
    return '';
  }
  if (cwd !== undefined) {
    rejectNul(cwd, 'working directory');
  }
  return lang.envSetupLines(entries, cwd, unsetListedIn).join('\n') + '\n';
}
