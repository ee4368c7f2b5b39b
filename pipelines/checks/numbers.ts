/**
 * Comparing two texts with numeric tolerance: the texts are cut into number tokens and the text
 * between them; the text must match exactly, the numbers within a relative tolerance (or an
 * absolute floor). Plain text, serialized JSON and HTML tables are all compared this way.
 */

/** How close two numbers must be to count as equal. */
export interface Tolerance {
  /** Relative tolerance: |a - b| <= rtol * max(|a|, |b|). */
  rtol: number;
  /** Absolute floor: |a - b| <= atol is equal whatever rtol says (default 0). */
  atol?: number;
}

/** The first place where two texts differ. */
export interface TextDifference {
  /** `number`: two numbers out of tolerance; `text`: the text around the numbers differs. */
  kind: 'number' | 'text';
  /** 1-based line of the difference in the actual text. */
  line: number;
  /** 1-based column of the difference in the actual text. */
  column: number;
  /** The baseline's number, or an excerpt from the difference on (text; empty at the end). */
  baseline: string;
  /** The actual number, or an excerpt from the difference on (text; empty at the end). */
  actual: string;
}

/** A number token: its text as written, its value, and where it starts. */
interface NumberToken {
  text: string;
  value: number;
  offset: number;
}

/** A text cut into `texts.length === numbers.length + 1` alternating parts. */
interface Tokens {
  texts: { text: string; offset: number }[];
  numbers: NumberToken[];
}

// A number must not continue a word or a dotted name (`x1`, `v1.2`), and must not run on into
// one (`3rd`, `12px`): those are identifiers, compared as text. nan and inf are Python's and
// numpy's spellings of the special values (`-inf`, `NaN`, `Infinity`).
const NUMBER =
  /(?<![\w.])[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)(?![\w])/gi;

/** Cuts a text into number tokens and the text between them. */
function tokenize(text: string): Tokens {
  const tokens: Tokens = { texts: [], numbers: [] };
  let last = 0;
  for (const m of text.matchAll(NUMBER)) {
    const offset = m.index;
    tokens.texts.push({ text: text.slice(last, offset), offset: last });
    tokens.numbers.push({ text: m[0], value: parseNumber(m[0]), offset });
    last = offset + m[0].length;
  }
  tokens.texts.push({ text: text.slice(last), offset: last });
  return tokens;
}

/** The value of a number token, nan and inf included. */
function parseNumber(token: string): number {
  const lower = token.toLowerCase();
  const sign = lower.startsWith('-') ? -1 : 1;
  const bare = lower.replace(/^[-+]/, '');
  if (bare === 'nan') {
    return Number.NaN;
  }
  if (bare === 'inf' || bare === 'infinity') {
    return sign * Number.POSITIVE_INFINITY;
  }
  return Number(lower);
}

/** Whether two numbers are equal within the tolerance; NaN equals NaN, inf equals itself. */
export function numbersClose(a: number, b: number, tolerance: Tolerance): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (a === b) {
    return true;
  }
  if (!Number.isFinite(a) || !Number.isFinite(b)) {
    return false;
  }
  const d = Math.abs(a - b);
  return d <= (tolerance.atol ?? 0) || d <= tolerance.rtol * Math.max(Math.abs(a), Math.abs(b));
}

/** 1-based line and column of an offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

/**
 * Up to 40 characters of a text from an offset, not past the end of its line; from a line
 * break, the next line with it (so that an added line shows). Empty only at the end.
 */
function excerpt(text: string, offset: number): string {
  const rest = text.slice(offset);
  const end = rest.indexOf('\n', 1);
  const line = end < 0 ? rest : rest.slice(0, end);
  return line.length > 40 ? `${line.slice(0, 40)}…` : line;
}

/** Length of the common prefix of two strings. */
function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) {
    i += 1;
  }
  return i;
}

/**
 * The first difference between two (already normalized) texts, or null when they are equal:
 * the parts between numbers must be identical, and each pair of numbers within `tolerance`
 * (numbers written differently but equal in value, `1.0` and `1.00`, are equal). A number on
 * one side where the other has text is a text difference.
 */
export function compareNumericText(
  baseline: string,
  actual: string,
  tolerance: Tolerance,
): TextDifference | null {
  if (baseline === actual) {
    return null;
  }
  const b = tokenize(baseline);
  const a = tokenize(actual);
  const textDifference = (bOffset: number, aOffset: number): TextDifference => ({
    kind: 'text',
    ...position(actual, aOffset),
    baseline: excerpt(baseline, bOffset),
    actual: excerpt(actual, aOffset),
  });
  const shared = Math.min(b.numbers.length, a.numbers.length);
  for (let i = 0; i <= shared; i += 1) {
    // Each side has one text part more than numbers, so texts[i] exists on both for i <= shared.
    const bt = b.texts[i];
    const at = a.texts[i];
    if (i === shared && b.numbers.length !== a.numbers.length) {
      // One side has a number where the other has none: the rest of the texts differ.
      const k = commonPrefix(baseline.slice(bt.offset), actual.slice(at.offset));
      return textDifference(bt.offset + k, at.offset + k);
    }
    if (bt.text !== at.text) {
      const k = commonPrefix(bt.text, at.text);
      return textDifference(bt.offset + k, at.offset + k);
    }
    const bn = b.numbers[i];
    const an = a.numbers[i];
    if (i < shared && !numbersClose(bn.value, an.value, tolerance)) {
      return { kind: 'number', ...position(actual, an.offset), baseline: bn.text, actual: an.text };
    }
  }
  return null;
}
