/**
 * What the CLI prints of stored text (job, stage, metric and parameter names and values, cell
 * ids, diffed lines): anyone who can start a run chose it, and a terminal obeys the escape
 * sequences in what it prints (cursor moves, colours, window titles, hyperlinks, clipboard
 * writes). So every control character is shown escaped: C0 and DEL as `\xNN` (as the store's
 * messages show them), C1 (U+0080 to U+009F, which some terminals also read as escapes) as
 * `\uNNNN`. Only the CLI's own colours reach the terminal as escapes.
 */
import { escapeControlCharacters } from '../pipelines/paths/control-chars';

const C1 = /[\u0080-\u009f]/g;

/** `text` on one line, with every control character escaped. */
export function printable(text: string): string {
  return escapeControlCharacters(text).replace(
    C1,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A line of a stored file (a source, an output) as {@link printable}, but tabs kept. */
export function printableLine(line: string): string {
  return line.split('\t').map(printable).join('\t');
}
