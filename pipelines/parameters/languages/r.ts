/**
 * R parameters: values written as R literals (`NULL`, `TRUE`, `NaN`, strings, `list(...)`), the
 * environment set through `Sys.setenv`, and the defaults of a `parameters` cell read back from
 * `name <- literal` / `name = literal` lines.
 */
import { ParameterError } from '../../errors';
import type { JSONValue } from '../../notebook/model';
import type { ParameterLanguage, ParsedAssignment } from './language';
import { NotLiteral, assignment, skipSpace, typeOf, type Literal } from './literals';
import { pyString } from './python';
import { checkIdentifier, hex, quoted, rejectNulAndLoneSurrogates } from './quoting';

// ---------------------------------------------------------------------------------------------
// Writing

const R_RESERVED = new Set(
  (
    'if else repeat while function for next break TRUE FALSE NULL Inf NaN NA NA_integer_ ' +
    'NA_real_ NA_character_ NA_complex_ in'
  ).split(' '),
);

/** An R string literal ("..."). R strings cannot hold NUL or lone surrogates. */
function rString(text: string, what: string): string {
  rejectNulAndLoneSurrogates(text, what);
  return quoted(text, (code) =>
    code <= 0x7f
      ? `\\x${hex(code, 2)}`
      : code <= 0xffff
        ? `\\u${hex(code, 4)}`
        : `\\U{${code.toString(16)}}`,
  );
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

function envSetupLines(
  entries: [string, string][],
  cwd: string | undefined,
  unsetListedIn?: string,
): string[] {
  const lines: string[] = [];
  if (unsetListedIn !== undefined) {
    const name = rString(unsetListedIn, 'name');
    lines.push(
      `invisible(Sys.unsetenv(c(setdiff(strsplit(Sys.getenv(${name}), ",", fixed = TRUE)[[1]], ""), ${name})))`,
    );
  }
  if (entries.length > 0) {
    const items = entries.map(
      ([k, v]) => `${rString(k, 'name')} = ${rString(v, `environment variable "${k}"`)}`,
    );
    lines.push(`invisible(Sys.setenv(${items.join(', ')}))`);
  }
  if (cwd !== undefined) {
    lines.push(`invisible(setwd(${rString(cwd, 'working directory')}))`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Reading

const R_ASSIGN = /^([A-Za-z.][A-Za-z0-9._]*)[ \t]*(?:<-|=(?!=))[ \t]*/my;

function rAssignment(text: string, lineStart: number): ParsedAssignment | null {
  R_ASSIGN.lastIndex = lineStart;
  const match = R_ASSIGN.exec(text);
  if (match === null || match[1] === undefined) {
    return null;
  }
  return assignment(text, match[1], lineStart + match[0].length, lineStart, (t, p) =>
    rValue(t, p, false),
  );
}

function rValue(text: string, start: number, nested: boolean): Literal {
  const pos = skipSpace(text, start, nested);
  const rest = text.slice(pos, pos + 64);
  const call = /^(c|list)[ \t]*\(/.exec(rest);
  if (call !== null) {
    return rCall(text, pos + call[0].length, call[1] === 'list');
  }
  if (text[pos] === '"' || text[pos] === "'") {
    const lit = pyString(text, pos); // R's escapes are Python's, for the literals that matter here
    return { value: lit.value, type: 'string', end: lit.end };
  }
  const word = /^(TRUE|FALSE|T|F|NULL)(?![\w.])/.exec(rest);
  if (word !== null && word[1] !== undefined) {
    const value = word[1] === 'NULL' ? null : word[1].startsWith('T');
    return { value, type: typeOf(value), end: pos + word[1].length };
  }
  const num = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(L?)(?![\w.])/.exec(rest);
  if (num !== null) {
    const literal = num[0].replace(/L$/, '');
    const isFloat = num[1] !== 'L' && /[.eE]/.test(literal);
    return {
      value: Number(literal),
      type: isFloat ? 'float' : 'integer',
      end: pos + num[0].length,
    };
  }
  throw new NotLiteral();
}

function rCall(text: string, start: number, isList: boolean): Literal {
  const items: JSONValue[] = [];
  const named: [string, JSONValue][] = [];
  let i = skipSpace(text, start, true);
  while (text[i] !== ')') {
    const name = /^([A-Za-z.][A-Za-z0-9._]*|"[^"\n]*"|'[^'\n]*')[ \t]*=(?!=)/.exec(
      text.slice(i, i + 128),
    );
    if (name !== null && name[1] !== undefined) {
      const key = name[1].replace(/^["']|["']$/g, '');
      const item = rValue(text, i + name[0].length, true);
      named.push([key, item.value]);
      i = item.end;
    } else {
      const item = rValue(text, i, true);
      items.push(item.value);
      i = item.end;
    }
    i = skipSpace(text, i, true);
    if (text[i] === ',') {
      i = skipSpace(text, i + 1, true);
    } else if (text[i] !== ')') {
      throw new NotLiteral();
    }
  }
  if (named.length > 0) {
    if (items.length > 0 || !isList) {
      throw new NotLiteral(); // mixed or named atomic vectors: not plain JSON
    }
    return { value: Object.fromEntries(named), type: 'dict', end: i + 1 };
  }
  return { value: items, type: 'list', end: i + 1 };
}

/** R: papermill's RTranslator, and the reader of its `parameters` cells. */
export const r: ParameterLanguage = {
  language: 'r',
  variableName(name) {
    checkIdentifier(name);
    // As papermill: leading underscores are not legal in R names and are dropped.
    const stripped = name.replace(/^_+/, '');
    if (stripped === '' || /^[0-9]/.test(stripped) || R_RESERVED.has(stripped)) {
      throw new ParameterError(`parameter name "${name}" cannot be an R variable name`);
    }
    return stripped;
  },
  assignment: (variable, value, what) => `${variable} = ${toR(value, what)}`,
  checkEnvName: () => undefined,
  envSetupLines,
  parseAssignment: rAssignment,
};
