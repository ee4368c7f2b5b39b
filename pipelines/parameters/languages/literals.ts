/**
 * Helpers the languages share to read the defaults of a `parameters` cell: literals, trailing
 * comments, and values that are not literals (kept as `expression` with their source text).
 */
import type { JSONValue } from '../../notebook/model';
import type { ParameterDefault, ParsedAssignment } from './language';

/** A literal value and where it ends. */
export interface Literal {
  value: JSONValue;
  type: ParameterDefault['type'];
  end: number;
}

/** Thrown by a literal parser when the value is not a literal it understands. */
export class NotLiteral extends Error {}

/** The `type` of a default with this value. */
export function typeOf(value: JSONValue): ParameterDefault['type'] {
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
function expression(
  text: string,
  name: string,
  valueStart: number,
  lineStart: number,
): ParsedAssignment {
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

/**
 * The assignment of `name` whose value starts at `valueStart`: the literal `literal` reads there
 * with an optional trailing comment, else the value's source text as an `expression`.
 */
export function assignment(
  text: string,
  name: string,
  valueStart: number,
  lineStart: number,
  literal: (text: string, pos: number) => Literal,
): ParsedAssignment {
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

/** Skips blanks; inside brackets also newlines and comments. */
export function skipSpace(text: string, pos: number, multiline: boolean): number {
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
