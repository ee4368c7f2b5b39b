/**
 * Parameter values as code in the kernel's language, papermill-compatible (python, R, bash), and
 * the code that sets environment variables and the working directory in a kernel.
 */
import { ParameterError } from '../errors';
import type { JSONValue } from '../notebook/model';

/** A kernel language nbstage can write parameters for. */
export type KernelLanguage = 'python' | 'r' | 'bash';

const ALIASES: Record<string, KernelLanguage> = {
  python: 'python',
  python3: 'python',
  python2: 'python',
  ipython: 'python',
  ipython3: 'python',
  py: 'python',
  pysparkkernel: 'python',
  r: 'r',
  ir: 'r',
  sparkrkernel: 'r',
  bash: 'bash',
  sh: 'bash',
  shell: 'bash',
};

/**
 * The kernel language for a language or kernel name, case-insensitively (`Python3`, `ipython`,
 * `R`, `ir`, `bash`, `sh`, ...).
 *
 * @throws ParameterError for a language nbstage cannot write parameters for
 */
export function normalizeLanguage(language: string): KernelLanguage {
  const found = ALIASES[language.trim().toLowerCase()];
  if (found === undefined) {
    throw new ParameterError(
      `cannot write parameters for language "${language}" (supported: python, R, bash)`,
    );
  }
  return found;
}

const PYTHON_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except ' +
    'finally for from global if import in is lambda nonlocal not or pass raise return try while ' +
    'with yield'
  ).split(' '),
);
const R_RESERVED = new Set(
  (
    'if else repeat while function for next break TRUE FALSE NULL Inf NaN NA NA_integer_ ' +
    'NA_real_ NA_character_ NA_complex_ in'
  ).split(' '),
);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

// Characters written as escapes rather than as themselves: controls, format characters (bidi
// overrides), line/paragraph separators and lone surrogates.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

function rejectNul(text: string, what: string): void {
  if (text.includes('\0')) {
    throw new ParameterError(`${what} contains a NUL character, which the kernel cannot hold`);
  }
}

function hasLoneSurrogate(text: string): boolean {
  return /\p{Cs}/u.test(text);
}

/**
 * A double-quoted string literal: backslash, quote, newline, return and tab escaped the C way,
 * other unsafe characters through `escape(code)` (each language spells those differently).
 */
function quoted(text: string, escape: (code: number) => string): string {
  let out = '"';
  for (const ch of text) {
    if (ch === '\\' || ch === '"') {
      out += `\\${ch}`;
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (ch === '\t') {
      out += '\\t';
    } else if (UNSAFE.test(ch)) {
      out += escape(ch.codePointAt(0) ?? 0);
    } else {
      out += ch;
    }
  }
  return out + '"';
}

/** A Python string literal ("..."), valid for any text. */
function pythonString(text: string): string {
  return quoted(text, (code) =>
    code <= 0xff
      ? `\\x${hex(code, 2)}`
      : code <= 0xffff
        ? `\\u${hex(code, 4)}`
        : `\\U${hex(code, 8)}`,
  );
}

/** An R string literal ("..."). R strings cannot hold NUL or lone surrogates. */
function rString(text: string, what: string): string {
  rejectNul(text, what);
  if (hasLoneSurrogate(text)) {
    throw new ParameterError(`${what} is not valid Unicode (lone surrogate)`);
  }
  return quoted(text, (code) =>
    code <= 0x7f
      ? `\\x${hex(code, 2)}`
      : code <= 0xffff
        ? `\\u${hex(code, 4)}`
        : `\\U{${code.toString(16)}}`,
  );
}

/** A bash word in single quotes: the only character needing care is ' itself. */
function bashString(text: string, what: string): string {
  rejectNul(text, what);
  if (hasLoneSurrogate(text)) {
    throw new ParameterError(`${what} is not valid Unicode (lone surrogate)`);
  }
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function pythonNumber(value: number): string {
  if (Number.isNaN(value)) {
    return "float('nan')";
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? "float('inf')" : "float('-inf')";
  }
  return Object.is(value, -0) ? '-0.0' : String(value);
}

function rNumber(value: number): string {
  if (Number.isNaN(value)) {
    return 'NaN';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? 'Inf' : '-Inf';
  }
  return String(value);
}

function bashNumber(value: number): string {
  if (Number.isNaN(value)) {
    return 'nan';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? 'inf' : '-inf';
  }
  return String(value);
}

function toPython(value: JSONValue, what: string): string {
  if (value === null) {
    return 'None';
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  if (typeof value === 'number') {
    return pythonNumber(value);
  }
  if (typeof value === 'string') {
    return pythonString(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => toPython(v, what)).join(', ')}]`;
  }
  const items = Object.entries(value).map(([k, v]) => `${pythonString(k)}: ${toPython(v, what)}`);
  return `{${items.join(', ')}}`;
}

function toR(value: JSONValue, what: string): string {
  if (value === null) {
    return 'NULL';
  }
  if (typeof value === 'boolean') {
    return value ? 'TRUE' : 'FALSE';
  }
  if (typeof value === 'number') {
    return rNumber(value);
  }
  if (typeof value === 'string') {
    return rString(value, what);
  }
  if (Array.isArray(value)) {
    return `list(${value.map((v) => toR(v, what)).join(', ')})`;
  }
  const items = Object.entries(value).map(([k, v]) => `${rString(k, what)} = ${toR(v, what)}`);
  return `list(${items.join(', ')})`;
}

/** A bash word for a scalar; lists and objects nested in a list become JSON strings. */
function bashWord(value: JSONValue, what: string): string {
  if (value === null) {
    return "''";
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  if (typeof value === 'number') {
    return bashNumber(value);
  }
  if (typeof value === 'string') {
    return bashString(value, what);
  }
  return bashString(JSON.stringify(value), what);
}

function toBash(value: JSONValue, what: string): string {
  if (Array.isArray(value)) {
    return `(${value.map((v) => bashWord(v, what)).join(' ')})`;
  }
  return bashWord(value, what);
}

/** The variable name a parameter gets in a language, checked. */
function variableName(language: KernelLanguage, name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new ParameterError(
      `parameter name "${name}" is not a valid identifier (letters, digits and _, not starting with a digit)`,
    );
  }
  if (language === 'python' && PYTHON_KEYWORDS.has(name)) {
    throw new ParameterError(`parameter name "${name}" is a Python keyword`);
  }
  if (language === 'r') {
    // As papermill: leading underscores are not legal in R names and are dropped.
    const stripped = name.replace(/^_+/, '');
    if (stripped === '' || /^[0-9]/.test(stripped) || R_RESERVED.has(stripped)) {
      throw new ParameterError(`parameter name "${name}" cannot be an R variable name`);
    }
    return stripped;
  }
  return name;
}

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
  const lang = normalizeLanguage(language);
  let code = commentLine(comment) + '\n';
  for (const [name, value] of Object.entries(params)) {
    const variable = variableName(lang, name);
    const what = `parameter "${name}"`;
    const literal =
      lang === 'python'
        ? toPython(value, what)
        : lang === 'r'
          ? toR(value, what)
          : toBash(value, what);
    code += lang === 'bash' ? `${variable}=${literal}\n` : `${variable} = ${literal}\n`;
  }
  return code;
}

function checkEnv(lang: KernelLanguage, env: Record<string, string>): void {
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0')) {
      throw new ParameterError(`environment variable name "${name}" is not valid`);
    }
    if (lang === 'bash' && !IDENTIFIER.test(name)) {
      throw new ParameterError(`environment variable name "${name}" cannot be exported from bash`);
    }
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
  const lang = normalizeLanguage(language);
  checkEnv(lang, env);
  const entries = Object.entries(env);
  if (entries.length === 0 && cwd === undefined) {
    return '';
  }
  if (cwd !== undefined) {
    rejectNul(cwd, 'working directory');
  }
  const lines: string[] = [];
  switch (lang) {
    case 'python': {
      lines.push('import os as _nbstage_os');
      if (entries.length > 0) {
        const items = entries.map(([k, v]) => `${pythonString(k)}: ${pythonString(v)}`);
        lines.push(`_nbstage_os.environ.update({${items.join(', ')}})`);
      }
      if (cwd !== undefined) {
        lines.push(`_nbstage_os.chdir(${pythonString(cwd)})`);
      }
      lines.push('del _nbstage_os');
      break;
    }
    case 'bash':
      for (const [k, v] of entries) {
        lines.push(`export ${k}=${bashString(v, `environment variable "${k}"`)}`);
      }
      if (cwd !== undefined) {
        lines.push(`cd -- ${bashString(cwd, 'working directory')}`);
      }
      break;
    case 'r':
      if (entries.length > 0) {
        const items = entries.map(
          ([k, v]) => `${rString(k, 'name')} = ${rString(v, `environment variable "${k}"`)}`,
        );
        lines.push(`invisible(Sys.setenv(${items.join(', ')}))`);
      }
      if (cwd !== undefined) {
        lines.push(`invisible(setwd(${rString(cwd, 'working directory')}))`);
      }
      break;
  }
  return lines.join('\n') + '\n';
}
