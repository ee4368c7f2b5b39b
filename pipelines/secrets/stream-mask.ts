/**
 * Masks a text stream that arrives in chunks, each chunk once: a secret split across two chunks
 * is still masked, because the end of a chunk that could be the start of a secret is held back
 * until the next chunk (or {@link StreamMasker.flush}) says what it is. Masking the joined text
 * again on every chunk would cost time in the square of the stream's length.
 */
import type { Masker } from './mask';

/** The masking state of one stream (a cell's stdout, say). */
export class StreamMasker {
  private carry = '';
  private readonly matcher: RegExp | null;

  constructor(private readonly masker: Masker) {
    this.matcher = masker.matcher();
  }

  /** Takes the next chunk; returns the masked text that is now final (maybe empty). */
  push(chunk: string): string {
    const text = this.carry + chunk;
    if (this.matcher === null) {
      this.carry = '';
      return text;
    }
    let cut = text.length - this.heldBack(text);
    // Never cut inside a match: it is masked whole now.
    this.matcher.lastIndex = 0;
    for (let m = this.matcher.exec(text); m !== null; m = this.matcher.exec(text)) {
      if (m.index >= cut) {
        break;
      }
      cut = Math.max(cut, m.index + m[0].length);
      if (m[0].length === 0) {
        this.matcher.lastIndex += 1;
      }
    }
    this.carry = text.slice(cut);
    return this.masker.mask(text.slice(0, cut));
  }

  /** The text held back, masked; the stream starts afresh. */
  flush(): string {
    const rest = this.carry;
    this.carry = '';
    return this.masker.mask(rest);
  }

  /** Whether text is held back. */
  get pending(): boolean {
    return this.carry !== '';
  }

  /** Length of the longest end of `text` that is the start (not the whole) of a masked form. */
  private heldBack(text: string): number {
    let best = 0;
    for (const form of this.masker.forms) {
      const from = Math.max(0, text.length - form.length + 1);
      for (let i = from; i < text.length && text.length - i > best; i++) {
        if (text.charCodeAt(i) === form.charCodeAt(0) && form.startsWith(text.slice(i))) {
          best = text.length - i;
          break;
        }
      }
    }
    return best;
  }
}
