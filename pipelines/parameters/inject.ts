/**
 * Papermill's parameter injection: a new cell tagged `injected-parameters` right after the first
 * cell tagged `parameters` (or at the top), replacing any earlier injected cell. Also reads the
 * defaults in the `parameters` cell (simple assignments), so a Jenkinsfile can declare them.
 */
import type { Cell, CodeCell, JSONValue, Notebook } from '../notebook/model';
import { cloneNotebook, hasTag, joinSource, newCellId, splitLines } from '../notebook/model';
import { normalizeLanguage, translateParameters } from './translators';

/** Tag of the cell holding a notebook's parameter defaults. */
export const PARAMETERS_TAG = 'parameters';
/** Tag of the cell nbstage (and papermill) inserts with the run's values. */
export const INJECTED_TAG = 'injected-parameters';

/**
 * Returns a copy of the notebook with the parameters injected, papermill-style: cells tagged
 * `injected-parameters` are removed, and a new code cell with that tag, holding the parameters
 * translated to `language`, goes right after the first cell tagged `parameters`, or first when
 * there is none. With no parameters the copy is unchanged (no cell is added or removed).
 *
 * @param nb - the notebook (not modified)
 * @param params - the parameter values
 * @param language - the kernel language (or alias) to write them in
 * @throws ParameterError for an unknown language or a value it cannot express
 */
export function injectParameters(
  nb: Notebook,
  params: Record<string, JSONValue>,
  language: string,
): Notebook {
  const out = cloneNotebook(nb);
  if (Object.keys(params).length === 0) {
    return out;
  }
  const source = translateParameters(language, params);
  const cell: CodeCell = {
    cell_type: 'code',
    id: newCellId(),
    metadata: { tags: [INJECTED_TAG] },
    source: splitLines(source),
    execution_count: null,
    outputs: [],
  };
  if (out.nbformat_minor < 5) {
    delete cell.id; // cell ids exist from nbformat 4.5 on
  }
  const cells = out.cells.filter((c) => !hasTag(c, INJECTED_TAG));
  const at = cells.findIndex((c) => hasTag(c, PARAMETERS_TAG));
  cells.splice(at + 1, 0, cell); // at === -1: at the top
  out.cells = cells;
  return out;
}

/** A default read from the `parameters` cell. */
export interface ParameterDefault {
  /** Variable name. */
  name: string;
  /** The value when it is a literal; otherwise the expression's source text. */
  default: JSONValue;
  /** The literal's type; `expression` when the value is not a literal nbstage understands. */
  type: 'string' | 'integer' | 'float' | 'boolean' | 'null' | 'list' | 'dict' | 'expression';
  /** The comment at the end of the assignment line (help text), or null. */
  comment: string | null;
}

/**
 * Best-effort reading of the first `parameters` cell's simple top-level assignments: python
 * `name = literal  # comment` (also `name: type = ...`), bash `name=value  # comment` (also
 * `export`/`declare`), R `name <- literal` / `name = literal`. Other lines are ignored; values
 * that are not literals are reported as `expression` with their source text.
 *
 * @param nb - the notebook
 * @param language - the kernel language (or alias)
 * @returns the defaults in source order; empty when there is no `parameters` cell
 * @throws ParameterError for an unknown language
 */
export function parametersCellDefaults(nb: Notebook, language: string): ParameterDefault[] {
  const lang = normalizeLanguage(language);
  const cell: Cell | undefined = nb.cells.find(
    (c) => c.cell_type === 'code' && hasTag(c, PARAMETERS_TAG),
  );
  if (cell === undefined) {
    return [];
  }
  const source = joinSource(cell.source);
  const parse =
    lang === 'python' ? pythonAssignment : lang === 'bash' ? bashAssignment : rAssignment;
  const found = new Map<string, ParameterDefault>();
  let next = 0; // lines before `next` belong to the previous (multi-line) value
  let offset = 0;
  for (const line of source.split('\n')) {
    const start = offset;
    offset += line.length + 1;
    if (start < next) {
      continue;
    }
    const result = parse(source, start);
    if (result !== null) {
      found.delete(result.param.name); // a later assignment wins, in its own position
      found.set(result.param.name, result.param);
      next = result.end;
    }
  }
  return [...found.values()];
}

interface Parsed {
  param: ParameterDefault;
  /** Offset just past the parsed assignment (its line end). */
  end: number;
}

/** A literal value and where it ends. */
interface Literal {
  value: JSONValue;
  type: ParameterDefault['type'];
  end: number;
}

class NotLiteral extends Error {}

function typeOf(value: JSONValue): ParameterDefault['type'] {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'list';
  }
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isInteger(value) ? 'integer' : 'float';
    default:
      return 'dict';
  }
}

/** The rest of the line after a value: blanks, then an optional `# comment`; else null. */
function trailingComment(
  text: string,
  pos: number,
): { comment: string | null; end: number } | null {
  let i = pos;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === ';')) {
    i++;
  }
  const lineEnd = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i);
  if (i === lineEnd || (text[i] === '\r' && i + 1 === lineEnd)) {
    return { comment: null, end: lineEnd };
  }
  if (text[i] === '#') {
    const comment = text.slice(i + 1, lineEnd).trim();
    return { comment: comment === '' ? null : comment, end: lineEnd };
  }
  return null;
}

/** Finds the start of a `#` comment on a line, outside quotes; the line end when there is none. */
function commentStart(text: string, pos: number, lineEnd: number): number {
  let quote: string | null = null;
  for (let i = pos; i < lineEnd; i++) {
    const ch = text[i];
    if (quote !== null) {
      if (ch === '\\') {
        i++;
      } else if (ch === quote) {
        quote = null;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '#') {
      return i;
    }
  }
  return lineEnd;
}

/** A value that is not a literal: its source text up to the comment, as an `expression`. */
function expression(text: string, name: string, valueStart: number, lineStart: number): Parsed {
  const lineEnd =
    text.indexOf('\n', lineStart) === -1 ? text.length : text.indexOf('\n', lineStart);
  const hash = commentStart(text, valueStart, lineEnd);
  const comment = hash < lineEnd ? text.slice(hash + 1, lineEnd).trim() : '';
  return {
    param: {
      name,
      default: text.slice(valueStart, hash).trim(),
      type: 'expression',
      comment: comment === '' ? null : comment,
    },
    end: lineEnd,
  };
}

function assignment(
  text: string,
  name: string,
  valueStart: number,
  lineStart: number,
  literal: (text: string, pos: number) => Literal,
): Parsed {
  try {
    const lit = literal(text, valueStart);
    const rest = trailingComment(text, lit.end);
    if (rest !== null) {
      return {
        param: { name, default: lit.value, type: lit.type, comment: rest.comment },
        end: rest.end,
      };
    }
  } catch (err) {
    if (!(err instanceof NotLiteral)) {
      throw err;
    }
  }
  return expression(text, name, valueStart, lineStart);
}

// ---------------------------------------------------------------------------------------------
// Python

const PY_ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*/my;

function pythonAssignment(text: string, lineStart: number): Parsed | null {
  PY_ASSIGN.lastIndex = lineStart;
  const match = PY_ASSIGN.exec(text);
  if (match === null || match[1] === undefined) {
    return null;
  }
  return assignment(text, match[1], lineStart + match[0].length, lineStart, pythonLiteral);
}

/** Skips blanks; inside brackets also newlines and comments. */
function skipSpace(text: string, pos: number, multiline: boolean): number {
  let i = pos;
  for (;;) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || (multiline && (ch === '\n' || ch === '\r'))) {
      i++;
    } else if (multiline && ch === '#') {
      while (i < text.length && text[i] !== '\n') {
        i++;
      }
    } else if (ch === '\\' && text[i + 1] === '\n') {
      i += 2;
    } else {
      return i;
    }
  }
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

function pyString(text: string, start: number): { value: string; end: number } {
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

// ---------------------------------------------------------------------------------------------
// bash

const BASH_ASSIGN =
  /^[ \t]*(?:(?:export|readonly|local|declare(?:[ \t]+-[A-Za-z]+)*)[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=/my;

function bashAssignment(text: string, lineStart: number): Parsed | null {
  BASH_ASSIGN.lastIndex = lineStart;
  const match = BASH_ASSIGN.exec(text);
  if (match === null || match[1] === undefined) {
    return null;
  }
  return assignment(text, match[1], lineStart + match[0].length, lineStart, bashLiteral);
}

const BASH_WORD_END = new Set([' ', '\t', '\n', '\r', ';', '#', ')', '(', '|', '&', '<', '>']);

/** One shell word: quoted and bare parts; substitutions make it an expression. */
function bashWord(text: string, start: number): { value: string; quoted: boolean; end: number } {
  let i = start;
  let value = '';
  let quoted = false;
  while (i < text.length && !BASH_WORD_END.has(text[i] as string)) {
    const ch = text[i] as string;
    if (ch === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) {
        throw new NotLiteral();
      }
      value += text.slice(i + 1, close);
      quoted = true;
      i = close + 1;
    } else if (ch === '"') {
      quoted = true;
      i++;
      while (text[i] !== '"') {
        const c = text[i];
        if (c === undefined || c === '$' || c === '`') {
          throw new NotLiteral();
        }
        if (c === '\\' && /["\\$`\n]/.test(text[i + 1] ?? '')) {
          value += text[i + 1] === '\n' ? '' : text[i + 1];
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
    } else if (ch === '$' || ch === '`') {
      throw new NotLiteral();
    } else if (ch === '\\') {
      value += text[i + 1] === '\n' ? '' : (text[i + 1] ?? '');
      i += 2;
    } else {
      value += ch;
      i++;
    }
  }
  return { value, quoted, end: i };
}

function bashScalar(word: { value: string; quoted: boolean }): {
  value: JSONValue;
  type: ParameterDefault['type'];
} {
  if (!word.quoted) {
    if (/^-?\d+$/.test(word.value)) {
      return { value: Number(word.value), type: 'integer' };
    }
    if (/^-?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(word.value)) {
      return { value: Number(word.value), type: 'float' };
    }
    if (word.value === 'true' || word.value === 'false') {
      return { value: word.value === 'true', type: 'boolean' };
    }
  }
  return { value: word.value, type: 'string' };
}

function bashLiteral(text: string, pos: number): Literal {
  if (text[pos] === '(') {
    const items: JSONValue[] = [];
    let i = skipSpace(text, pos + 1, true);
    while (text[i] !== ')') {
      if (i >= text.length) {
        throw new NotLiteral();
      }
      const word = bashWord(text, i);
      if (word.end === i) {
        throw new NotLiteral();
      }
      items.push(bashScalar(word).value);
      i = skipSpace(text, word.end, true);
    }
    return { value: items, type: 'list', end: i + 1 };
  }
  const word = bashWord(text, pos);
  if (text[word.end] === '(' || text[word.end] === ')') {
    throw new NotLiteral();
  }
  return { ...bashScalar(word), end: word.end };
}

// ---------------------------------------------------------------------------------------------
// R

const R_ASSIGN = /^([A-Za-z.][A-Za-z0-9._]*)[ \t]*(?:<-|=(?!=))[ \t]*/my;

function rAssignment(text: string, lineStart: number): Parsed | null {
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
