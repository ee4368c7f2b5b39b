/** Helpers the languages share to write values as code: string quoting, name and NUL checks. */
import { ParameterError } from '../../errors';

/** A name every language nbstage writes accepts: letters, digits and `_`, not a digit first. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A code point in hex, zero-padded to `width` digits. */
export function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

// Characters written as escapes rather than as themselves: controls, format characters (bidi
// overrides), line/paragraph separators and lone surrogates.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/**
 * Refuses text holding NUL, which no kernel can hold in a string.
 *
 * @throws ParameterError naming `what`
 */
export function rejectNul(text: string, what: string): void {
  if (text.includes('\0')) {
    throw new ParameterError(`${what} contains a NUL character, which the kernel cannot hold`);
  }
}

/**
 * Refuses NUL and lone surrogates, for languages whose strings cannot hold them (R, bash).
 *
 * @throws ParameterError naming `what`
 */
export function rejectNulAndLoneSurrogates(text: string, what: string): void {
  rejectNul(text, what);
  if (/\p{Cs}/u.test(text)) {
    throw new ParameterError(`${what} is not valid Unicode (lone surrogate)`);
  }
}

/**
 * A double-quoted string literal: backslash, quote, newline, return and tab escaped the C way,
 * other unsafe characters through `escape(code)` (each language spells those differently).
 */
export function quoted(text: string, escape: (code: number) => string): string {
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

/**
 * Checks that a parameter name is an identifier (see {@link IDENTIFIER}).
 *
 * @throws ParameterError when it is not
 */
export function checkIdentifier(name: string): void {
  if (!IDENTIFIER.test(name)) {
    throw new ParameterError(
      `parameter name "${name}" is not a valid identifier (letters, digits and _, not starting with a digit)`,
    );
  }
}
