/**
 * Python parameters: values written as Python literals (`None`, `True`, `float('nan')`, `"..."`,
 * lists, dicts), the environment set through `os`, and the defaults of a `parameters` cell read
 * back from `name = literal  # comment` lines.
 */
import { ParameterError } from '../../errors';
import type { JSONValue } from '../../notebook/model';
import type { ParameterLanguage, ParsedAssignment } from './language';
import { NotLiteral, assignment, skipSpace, typeOf, type Literal } from './literals';
import { checkIdentifier, hex, quoted } from './quoting';

// ---------------------------------------------------------------------------------------------
// Writing

const PYTHON_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except ' +
    'finally for from global if import in is lambda nonlocal not or pass raise return try while ' +
    'with yield'
  ).split(' '),
);

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

function pythonNumber(value: number): string {
  if (Number.isNaN(value)) {
    return "float('nan')";
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? "float('inf')" : "float('-inf')";
  }
  return Object.is(value, -0) ? '-0.0' : String(value);
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

function envSetupLines(
  entries: [string, string][],
  cwd: string | undefined,
  unsetListedIn?: string,
): string[] {
  const lines = ['import os as _nbstage_os'];
  if (unsetListedIn !== undefined) {
    const listed = `_nbstage_os.environ.pop(${pythonString(unsetListedIn)}, '').split(',')`;
    lines.push(`[_nbstage_os.environ.pop(_k, None) for _k in ${listed} if _k]`);
  }
  if (entries.length > 0) {
    const items = entries.map(([k, v]) => `${pythonString(k)}: ${pythonString(v)}`);
    lines.push(`_nbstage_os.environ.update({${items.join(', ')}})`);
  }
  if (cwd !== undefined) {
    lines.push(`_nbstage_os.chdir(${pythonString(cwd)})`);
  }
  lines.push('del _nbstage_os');
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Reading

const PY_ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*/my;

function pythonAssignment(text: string, lineStart: number): ParsedAssignment | null {
  PY_ASSIGN.lastIndex = lineStart;
  const match = PY_ASSIGN.exec(text);
  if (match === null || match[1] === undefined) {
    return null;
  }
  return assignment(text, match[1], lineStart + match[0].length, lineStart, pythonLiteral);
}

function pythonLiteral(text: string, pos: number): Literal {
  return pyValue(text, pos, false);
}

function pyValue(text: string, start: number, nested: boolean): Literal {
  const pos = skipSpace(text, start, nested);
  const ch = text[pos] ?? '';
  if (ch === '[' || ch === '(') {
    return pySequence(text, pos, ch === '[' ? ']' : ')');
  }
  if (ch === '{') {
    return pyDict(text, pos);
  }
  const str = /^[rRuU]?['"]/.test(text.slice(pos, pos + 2));
  if (str) {
    let value = '';
    let i = pos;
    // Adjacent literals concatenate: "a" "b".
    while (/^[rRuU]?['"]/.test(text.slice(i, i + 2))) {
      const lit = pyString(text, i);
      value += lit.value;
      i = skipSpace(text, lit.end, nested);
    }
    return { value, type: 'string', end: i };
  }
  const word = /^(True|False|None)\b/.exec(text.slice(pos, pos + 6));
  if (word !== null && word[1] !== undefined) {
    const value = word[1] === 'None' ? null : word[1] === 'True';
    return { value, type: typeOf(value), end: pos + word[1].length };
  }
  const num =
    /^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d[\d_]*)?)(?![\w.])/.exec(
      text.slice(pos, pos + 64),
    );
  if (num !== null) {
    const raw = num[0].replace(/_/g, '');
    const sign = raw.startsWith('-') ? -1 : 1;
    const digits = raw.replace(/^[-+]/, '');
    const isFloat = /^(?!0[xXoObB])[\d.]*[.eE]/.test(digits);
    const value = isFloat ? Number(raw) : sign * Number(digits);
    if (Number.isNaN(value)) {
      throw new NotLiteral();
    }
    return { value, type: isFloat ? 'float' : 'integer', end: pos + num[0].length };
  }
  throw new NotLiteral();
}

function pySequence(text: string, open: number, close: string): Literal {
  const items: Literal[] = [];
  let trailingComma = false;
  let i = skipSpace(text, open + 1, true);
  while (text[i] !== close) {
    const item = pyValue(text, i, true);
    items.push(item);
    i = skipSpace(text, item.end, true);
    trailingComma = text[i] === ',';
    if (trailingComma) {
      i = skipSpace(text, i + 1, true);
    } else if (text[i] !== close) {
      throw new NotLiteral();
    }
  }
  const only = items[0];
  if (close === ')' && items.length === 1 && only !== undefined && !trailingComma) {
    return { ...only, end: i + 1 }; // (x) is x in parentheses, not a tuple
  }
  return { value: items.map((item) => item.value), type: 'list', end: i + 1 };
}

function pyDict(text: string, open: number): Literal {
  const entries: [string, JSONValue][] = [];
  let i = skipSpace(text, open + 1, true);
  while (text[i] !== '}') {
    const key = pyValue(text, i, true);
    if (typeof key.value === 'object' && key.value !== null) {
      throw new NotLiteral();
    }
    i = skipSpace(text, key.end, true);
    if (text[i] !== ':') {
      throw new NotLiteral(); // a set, or something else
    }
    const item = pyValue(text, i + 1, true);
    entries.push([String(key.value), item.value]);
    i = skipSpace(text, item.end, true);
    if (text[i] === ',') {
      i = skipSpace(text, i + 1, true);
    } else if (text[i] !== '}') {
      throw new NotLiteral();
    }
  }
  return { value: Object.fromEntries(entries), type: 'dict', end: i + 1 };
}

const PY_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\n': '',
};

/**
 * A Python string literal at `start` (with an optional r/u prefix, single or triple quotes) and
 * where it ends.
 *
 * @throws NotLiteral when it is unterminated or uses an escape nbstage does not read
 */
export function pyString(text: string, start: number): { value: string; end: number } {
  let i = start;
  let raw = false;
  if (/[rRuU]/.test(text[i] ?? '')) {
    raw = /[rR]/.test(text[i] ?? '');
    i++;
  }
  const q = text[i] ?? '';
  const triple = text.slice(i, i + 3) === q.repeat(3);
  const delim = triple ? q.repeat(3) : q;
  i += delim.length;
  let value = '';
  for (;;) {
    if (i >= text.length || (!triple && text[i] === '\n')) {
      throw new NotLiteral(); // unterminated
    }
    if (text.startsWith(delim, i)) {
      return { value, end: i + delim.length };
    }
    const ch = text[i] as string;
    if (ch !== '\\') {
      value += ch;
      i++;
      continue;
    }
    const next = text[i + 1] ?? '';
    if (raw) {
      value += ch + next;
      i += 2;
      continue;
    }
    const simple = PY_ESCAPES[next];
    if (simple !== undefined) {
      value += simple;
      i += 2;
      continue;
    }
    const hexEscape =
      /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{1,3}))/.exec(
        text.slice(i + 1, i + 10),
      );
    if (hexEscape !== null) {
      const [all, x, u, U, oct] = hexEscape;
      const code = parseInt(x ?? u ?? U ?? oct ?? '0', oct !== undefined ? 8 : 16);
      if (code > 0x10ffff) {
        throw new NotLiteral();
      }
      value += String.fromCodePoint(code);
      i += 1 + all.length;
      continue;
    }
    if (next === 'N') {
      throw new NotLiteral(); // \N{NAME}: would need the Unicode name table
    }
    value += ch + next; // unknown escapes keep their backslash, as in Python
    i += 2;
  }
}

/** Python: papermill's PythonTranslator, and the reader of its `parameters` cells. */
export const python: ParameterLanguage = {
  language: 'python',
  variableName(name) {
    checkIdentifier(name);
    if (PYTHON_KEYWORDS.has(name)) {
      throw new ParameterError(`parameter name "${name}" is a Python keyword`);
    }
    return name;
  },
  assignment: (variable, value, what) => `${variable} = ${toPython(value, what)}`,
  checkEnvName: () => undefined,
  envSetupLines,
  parseAssignment: pythonAssignment,
};
