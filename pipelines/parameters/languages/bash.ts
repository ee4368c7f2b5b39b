/**
 * bash parameters: values written as shell words (`NAME='value'`, `NAME=(a 'b')` for lists,
 * objects as JSON strings), the environment set with `export`, and the defaults of a `parameters`
 * cell read back from `name=value  # comment` lines (also `export`/`declare`).
 */
import { ParameterError } from '../../errors';
import type { JSONValue } from '../../notebook/model';
import type { ParameterDefault, ParameterLanguage, ParsedAssignment } from './language';
import { NotLiteral, assignment, skipSpace, type Literal } from './literals';
import { IDENTIFIER, checkIdentifier, rejectNulAndLoneSurrogates } from './quoting';

// ---------------------------------------------------------------------------------------------
// Writing

/** A bash word in single quotes: the only character needing care is ' itself. */
function bashString(text: string, what: string): string {
  rejectNulAndLoneSurrogates(text, what);
  return `'${text.replace(/'/g, `'\\''`)}'`;
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

function envSetupLines(
  entries: [string, string][],
  cwd: string | undefined,
  unsetListedIn?: string,
): string[] {
  const lines: string[] = [];
  if (unsetListedIn !== undefined) {
    // The names split at commas whatever IFS a session's cells left; unset quietly (readonly).
    lines.push(
      `IFS=, read -r -a _nbstage_names <<< "\${${unsetListedIn}-}"`,
      'for _nbstage_k in "${_nbstage_names[@]}"; do unset -v "$_nbstage_k" 2>/dev/null; done',
      `unset -v _nbstage_k _nbstage_names ${unsetListedIn}`,
    );
  }
  for (const [k, v] of entries) {
    lines.push(`export ${k}=${bashString(v, `environment variable "${k}"`)}`);
  }
  if (cwd !== undefined) {
    lines.push(`cd -- ${bashString(cwd, 'working directory')}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Reading

const BASH_ASSIGN =
  /^[ \t]*(?:(?:export|readonly|local|declare(?:[ \t]+-[A-Za-z]+)*)[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=/my;

function bashAssignment(text: string, lineStart: number): ParsedAssignment | null {
  BASH_ASSIGN.lastIndex = lineStart;
  const match = BASH_ASSIGN.exec(text);
  if (match === null || match[1] === undefined) {
    return null;
  }
  return assignment(text, match[1], lineStart + match[0].length, lineStart, bashLiteral);
}

const BASH_WORD_END = new Set([' ', '\t', '\n', '\r', ';', '#', ')', '(', '|', '&', '<', '>']);

/** One shell word: quoted and bare parts; substitutions make it an expression. */
function readWord(text: string, start: number): { value: string; quoted: boolean; end: number } {
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
      const word = readWord(text, i);
      if (word.end === i) {
        throw new NotLiteral();
      }
      items.push(bashScalar(word).value);
      i = skipSpace(text, word.end, true);
    }
    return { value: items, type: 'list', end: i + 1 };
  }
  const word = readWord(text, pos);
  if (text[word.end] === '(' || text[word.end] === ')') {
    throw new NotLiteral();
  }
  return { ...bashScalar(word), end: word.end };
}

/** bash: papermill's BashTranslator, and the reader of its `parameters` cells. */
export const bash: ParameterLanguage = {
  language: 'bash',
  variableName(name) {
    checkIdentifier(name);
    return name;
  },
  assignment: (variable, value, what) => `${variable}=${toBash(value, what)}`,
  checkEnvName(name) {
    if (!IDENTIFIER.test(name)) {
      throw new ParameterError(`environment variable name "${name}" cannot be exported from bash`);
    }
  },
  envSetupLines,
  parseAssignment: bashAssignment,
};
