/**
 * Finds the masked forms of secrets in a text, also where terminal escape sequences stand between
 * their characters, and says how much of a text's end could still start one (for streams). Text
 * without an escape character is searched with one literal regular expression, as the engine does
 * that fastest; other text with a small expression for the forms' first two characters and a
 * walk along each form from there. One walk serves both questions, so a stream holds back exactly
 * what matching could still take. Every method sets its expressions' `lastIndex` before using
 * them and runs to its end without waiting, so one matcher serves every caller.
 */
import {
  ESCAPE_SOURCE,
  EscapeReader,
  MAX_ESCAPES_IN_A_ROW,
  isEscapeStart,
  splittable,
  windowStart,
} from './escapes';

/** A masked form as the walk reads it. */
interface Form {
  text: string;
  /** Whether escape sequences may stand between its characters. */
  splittable: boolean;
}

/** What a walk found: no match from there. */
const NO_MATCH = -1;
/** What a walk found: the text ends inside the form (or inside an escape sequence in it). */
const UNFINISHED = -2;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function hasEscape(text: string): boolean {
  return text.includes('\x1b') || text.includes('\x9b');
}

/** Regular-expression source for the first two characters of `form`, escapes maybe between. */
function startSource(form: Form): string {
  const first = escapeRegExp(form.text.slice(0, 1));
  if (form.text.length < 2) {
    return first;
  }
  const gap = form.splittable ? `${ESCAPE_SOURCE}{0,${MAX_ESCAPES_IN_A_ROW}}` : '';
  return first + gap + escapeRegExp(form.text.charAt(1));
}

/**
 * Where masked forms are in a text. A form matches its characters in order with up to
 * {@link MAX_ESCAPES_IN_A_ROW} escape sequences between any two of them (none before or after),
 * unless it holds an escape character itself. The leftmost match wins, and at one offset the
 * first form given (the longest): what a regular expression of the forms, in that order, finds.
 */
export class FormMatcher {
  /** The forms by the code of their first character, in the order given. */
  private readonly byStart = new Map<number, Form[]>();
  /** The most characters of a form that a stream can hold back: the longest form's less one. */
  private readonly maxStart: number;
  /** Every form as it is, for text without escape characters. */
  private readonly literal: RegExp;
  /** Where a form may start in text with escape characters: its first two characters. */
  private readonly starts: RegExp;
  private readonly escapes = new EscapeReader();

  /**
   * @param texts - the masked forms, non-empty strings, in the order of preference (longest first)
   */
  constructor(texts: readonly string[]) {
    const forms = texts.map((text) => ({ text, splittable: splittable(text) }));
    let longest = 0;
    for (const form of forms) {
      longest = Math.max(longest, form.text.length);
      const code = form.text.charCodeAt(0);
      const same = this.byStart.get(code);
      if (same === undefined) {
        this.byStart.set(code, [form]);
      } else {
        same.push(form);
      }
    }
    this.maxStart = Math.max(0, longest - 1);
    this.literal = new RegExp(texts.map(escapeRegExp).join('|'), 'g');
    const starts = new Set(forms.map(startSource));
    this.starts = new RegExp([...starts].join('|'), 'g');
  }

  /** `text` with every match replaced by `replacement`. */
  replace(text: string, replacement: string): string {
    if (!hasEscape(text)) {
      return text.replace(this.literal, replacement);
    }
    let out = '';
    let last = 0;
    for (const [start, end] of this.find(text)) {
      out += text.slice(last, start) + replacement;
      last = end;
    }
    return last === 0 ? text : out + text.slice(last);
  }

  /** The matches in `text` that start before offset `before`, as [start, end), in order. */
  find(text: string, before = text.length): [number, number][] {
    const found: [number, number][] = [];
    if (!hasEscape(text)) {
      this.literal.lastIndex = 0;
      let m = this.literal.exec(text);
      while (m !== null && m.index < before) {
        found.push([m.index, m.index + m[0].length]);
        m = this.literal.exec(text);
      }
      return found;
    }
    this.starts.lastIndex = 0;
    let m = this.starts.exec(text);
    while (m !== null && m.index < before) {
      const end = this.matchAt(text, m.index);
      if (end >= 0) {
        found.push([m.index, end]);
      }
      // After a match the search goes on at its end; else from the next offset, as a regular
      // expression's search does.
      this.starts.lastIndex = end >= 0 ? end : m.index + 1;
      m = this.starts.exec(text);
    }
    return found;
  }

  /**
   * Length of the longest end of `text` that is the start, not the whole, of a match: at most the
   * longest form less one character, plus escape sequences between them (the last maybe
   * unfinished). A stream holds that back until the next chunk says what it is.
   */
  heldBack(text: string): number {
    if (this.maxStart === 0) {
      return 0;
    }
    for (let i = windowStart(text, this.maxStart, this.escapes); i < text.length; i++) {
      for (const form of this.byStart.get(text.charCodeAt(i)) ?? []) {
        if (this.walk(text, i, form) === UNFINISHED) {
          return text.length - i;
        }
      }
    }
    return 0;
  }

  /** The end of the match at offset `at` (the first form that matches there), or -1. */
  private matchAt(text: string, at: number): number {
    for (const form of this.byStart.get(text.charCodeAt(at)) ?? []) {
      const end = this.walk(text, at, form);
      if (end >= 0) {
        return end;
      }
    }
    return NO_MATCH;
  }

  /**
   * Walks `form` along `text` from `at`: its characters in order and, if it is splittable, up to
   * {@link MAX_ESCAPES_IN_A_ROW} escape sequences between two of them. An escape sequence is read
   * one way only and a form's characters are no escape characters, so there is one path: the
   * offset after the form, {@link UNFINISHED} if the text ends first, or {@link NO_MATCH}.
   */
  private walk(text: string, at: number, form: Form): number {
    let matched = 0;
    let inARow = 0; // escape sequences since the last character of the form
    let pos = at;
    while (matched < form.text.length) {
      if (pos >= text.length) {
        return UNFINISHED;
      }
      const code = text.charCodeAt(pos);
      if (code === form.text.charCodeAt(matched)) {
        matched += 1;
        inARow = 0;
        pos += 1;
      } else if (
        form.splittable &&
        matched > 0 &&
        inARow < MAX_ESCAPES_IN_A_ROW &&
        isEscapeStart(code)
      ) {
        const end = this.escapes.end(text, pos);
        if (end < 0) {
          return this.escapes.endsInside(text, pos) ? UNFINISHED : NO_MATCH;
        }
        inARow += 1;
        pos = end;
      } else {
        return NO_MATCH;
      }
    }
    return pos;
  }
}
