/**
 * Outputs measured and cut as the output limits see them: the plain text an output shows on the
 * console and in full-output files, its size against the limits, and a UTF-8-safe head of text.
 */
import type { Output } from '../notebook/model';

/** The text of an output as the console and the full-output files show it. */
export function plainText(output: Output): string {
  switch (output.output_type) {
    case 'stream':
      return Array.isArray(output.text) ? output.text.join('') : output.text;
    case 'error':
      return `${output.traceback.length > 0 ? output.traceback.join('\n') : `${output.ename}: ${output.evalue}`}\n`;
    default: {
      const plain = output.data['text/plain'];
      const text = Array.isArray(plain) ? plain.join('') : typeof plain === 'string' ? plain : null;
      return text === null
        ? `[${Object.keys(output.data)[0] ?? 'empty'} output]\n`
        : `${text.replace(/\n$/, '')}\n`;
    }
  }
}

/** Bytes an output takes against the limits (its JSON, for rich outputs). */
export function outputBytes(output: Output): number {
  return output.output_type === 'stream'
    ? Buffer.byteLength(plainText(output), 'utf8')
    : Buffer.byteLength(JSON.stringify(output), 'utf8');
}

/** The longest start of `text` that takes at most `bytes` bytes of UTF-8. */
export function headBytes(text: string, bytes: number): string {
  if (bytes <= 0) {
    return '';
  }
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) {
    return text;
  }
  let end = bytes;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) {
    end -= 1; // never split a character
  }
  return buf.subarray(0, end).toString('utf8');
}
