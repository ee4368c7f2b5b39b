/**
 * Parameter values as code in the kernel's language, papermill-compatible (python, R, bash), and
 * the code that sets environment variables and the working directory in a kernel. Each
 * language's own rules live in `languages/`; this module puts their lines together.
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
 * Code that, run silently in a kernel, sets environment variables and (optionally) changes the
 * working directory. Empty when there is nothing to set.
 *
 * - python: `import os as _nbstage_os`, `_nbstage_os.environ.update({...})`,
 *   `_nbstage_os.chdir(...)`, `del _nbstage_os`
 * - bash: `export NAME='...'`, `cd -- '...'`
 * - R: `Sys.setenv("NAME" = "...")`, `setwd("...")`
 *
 * @param language - kernel language or alias
 * @param env - variables to set
 * @param cwd - working directory to change to
 * @throws ParameterError for an unknown language or a name/value the environment cannot hold
 */
export function envSetupCode(language: string, env: Record<string, string>, cwd?: string): string {
  const lang = parameterLanguage(language);
  checkEnv(lang, env);
  const entries = Object.entries(env);
  if (entries.length === 0 && cwd === undefined) {
    return '';
  }
  if (cwd !== undefined) {
    rejectNul(cwd, 'working directory');
  }
  return lang.envSetupLines(entries, cwd).join('\n') + '\n';
}
