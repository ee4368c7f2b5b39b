/**
 * ASCII control characters (U+0000 to U+001F and U+007F) in names and messages: finding them,
 * showing them escaped on one line, or blanking them. Written without control characters in a
 * regular expression, which the linter forbids. Pure, so the domain (relative paths of artifacts
 * and workspaces) and the service share it.
 */

/** Whether a UTF-16 code unit is an ASCII control character. */
function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

/** Whether `text` holds a control character. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (isControl(text.charCodeAt(i))) {
      return true;
    }
  }
  return false;
}

/** `text` with each control character shown as `\xNN`, so that it fits on one line. */
export function escapeControlCharacters(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    out += isControl(code) ? `\\x${code.toString(16).padStart(2, '0')}` : text[i];
  }
  return out;
}

/** `text` with each control character replaced by `replacement`. */
export function replaceControlCharacters(text: string, replacement: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    out += isControl(text.charCodeAt(i)) ? replacement : text[i];
  }
  return out;
}
