/**
 * Terminal escape sequences as masking reads them. A secret printed with escape codes between its
 * characters (`"ab\x1b[31mcd"`) shows whole wherever the codes are stripped (the plain console,
 * JUnit) or rendered (a terminal, the HTML report), so a masked form also matches with these
 * sequences between its characters. They are those `stripAnsi` removes: CSI (`ESC [` params,
 * intermediates, final byte: SGR colours, `ESC [K`), OSC (`ESC ]` up to BEL or `ESC \`), the
 * two-byte `ESC @` to `ESC _`, the 8-bit CSI `\x9b`, and a lone ESC (here only before a character
 * that starts no other sequence). Each is read in exactly one way (no two readings match at one
 * offset), so matching never backtracks between readings. Each is bounded in length, and so is
 * the number of them in a row between two characters: matching stays linear in the text (a long
 * run of sequences would otherwise be walked again from every offset in it), and a stream holds
 * back a bounded amount.
 */

/** At most this many parameter bytes (`0`-`?`) in a CSI sequence. */
const MAX_PARAMS = 64;
/** At most this many intermediate bytes (space-`/`) in a CSI sequence. */
const MAX_INTERMEDIATES = 8;
/** At most this many characters between `ESC ]` and the end of an OSC sequence. */
const MAX_OSC_BODY = 512;

/** At most this many escape sequences in a row between two characters of a form. */
export const MAX_ESCAPES_IN_A_ROW = 16;

/** The longest escape sequence matched, in characters (an OSC ended by `ESC \`). */
export const MAX_ESCAPE_LENGTH = 2 + MAX_OSC_BODY + 2;

const PARAMS = String.raw`[0-?]{0,${MAX_PARAMS}}[ -/]{0,${MAX_INTERMEDIATES}}`;
/** OSC text up to its first terminator, as `stripAnsi` reads it. */
const OSC_BODY = String.raw`(?:[^\x07\x1b]|\x1b(?!\\)){0,${MAX_OSC_BODY}}`;

/**
 * Regular-expression source (a non-capturing group) for one escape sequence. A lone ESC is one
 * only where the next character starts no other sequence: the readings never overlap.
 */
export const ESCAPE_SOURCE =
  String.raw`(?:\x1b(?:\[${PARAMS}[@-~]|\]${OSC_BODY}(?:\x07|\x1b\\)|[@-Z\\^_]|(?![[\]@-Z\\^_]))` +
  String.raw`|\x9b${PARAMS}[@-~])`;

/** Regular-expression source for the start of an escape sequence that the text ends inside. */
const UNFINISHED_SOURCE = String.raw`(?:\x1b(?:\[${PARAMS}|\]${OSC_BODY}\x1b?)?|\x9b${PARAMS})$`;

/** Whether character code `code` starts an escape sequence (ESC or the 8-bit CSI). */
export function isEscapeStart(code: number): boolean {
  return code === 0x1b || code === 0x9b;
}

/**
 * Whether escape sequences may split `form`: not when it holds an escape character itself, so
 * that a character is always read one way, as part of the form or as part of a sequence.
 */
export function splittable(form: string): boolean {
  for (let i = 0; i < form.length; i++) {
    if (isEscapeStart(form.charCodeAt(i))) {
      return false;
    }
  }
  return true;
}

/** Reads escape sequences at given offsets of a text (its expressions keep match state). */
export class EscapeReader {
  private readonly complete = new RegExp(ESCAPE_SOURCE, 'y');
  private readonly unfinished = new RegExp(UNFINISHED_SOURCE, 'y');

  /** The offset after the escape sequence that starts at `at`, or -1 if none does. */
  end(text: string, at: number): number {
    this.complete.lastIndex = at;
    return this.complete.test(text) ? this.complete.lastIndex : -1;
  }

  /** Whether an escape sequence starts at `at` and is unfinished when the text ends. */
  endsInside(text: string, at: number): boolean {
    this.unfinished.lastIndex = at;
    return this.unfinished.test(text);
  }

  /**
   * Where the characters from `at` that an escape sequence takes end: after the sequence, at the
   * text's end if one is unfinished there, or `at` itself if none starts there.
   */
  extent(text: string, at: number): number {
    const end = this.end(text, at);
    if (end >= 0) {
      return end;
    }
    return this.endsInside(text, at) ? text.length : at;
  }
}

/**
 * An offset before which no end of `text` holding at most `plain` characters outside escape
 * sequences can start. Reads the text backwards from its end: `plain` characters, the escape
 * sequences among them and {@link MAX_ESCAPE_LENGTH} more (a sequence that starts further back
 * cannot reach past that). An unfinished sequence at the end covers the rest of the text.
 */
export function windowStart(text: string, plain: number, reader: EscapeReader): number {
  // Most often no sequence starts near the end: none can then cover the last plain + 1
  // characters, and the answer is plain characters back.
  const near = Math.max(0, text.length - plain - 1 - MAX_ESCAPE_LENGTH);
  if (text.indexOf('\x1b', near) < 0 && text.indexOf('\x9b', near) < 0) {
    return Math.max(0, text.length - plain);
  }
  // covered[p % size]: whether a sequence starting at q + 1 or later covers offset p.
  const size = MAX_ESCAPE_LENGTH + 1;
  const covered = new Uint8Array(size);
  let uncovered = 0;
  for (let q = text.length - 1; q >= -MAX_ESCAPE_LENGTH; q--) {
    // Offset p can only be covered by a sequence starting in [p - MAX + 1, p] = [q + 1, p]: all
    // read by now, so whether p is covered is final.
    const p = q + MAX_ESCAPE_LENGTH;
    if (p < text.length) {
      if (covered[p % size] === 0) {
        uncovered += 1;
        if (uncovered > plain) {
          return p + 1;
        }
      }
      covered[p % size] = 0; // the slot is offset q's now
    }
    if (q >= 0 && isEscapeStart(text.charCodeAt(q))) {
      const end = reader.extent(text, q);
      for (let r = q; r < end; r++) {
        covered[r % size] = 1;
      }
    }
  }
  return 0;
}
