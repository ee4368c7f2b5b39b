/**
 * Masks text that arrives in chunks, each chunk once: a secret split across chunks is still
 * masked, because the end of the text that could be the start of a secret is held back until the
 * next chunk (or {@link StreamMasker.flush}) says what it is. The chunks may belong to several
 * streams (a cell's stdout and stderr, which the console shows as one text): a secret printed
 * half to one and half to the other is masked too, its mask shown where it started. A chunk may
 * also end inside or after an escape sequence between a secret's characters (`ab\x1b[3`): that is
 * held back too. Masking the joined text again on every chunk would cost time in the square of
 * the stream's length.
 */
import type { FormMatcher } from './form-matcher';
import { MASK, type Masker } from './mask';

/** Text of one stream. */
export interface StreamPiece<N extends string = string> {
  name: N;
  text: string;
}

/**
 * The masking state of one interleaved text (a cell's streams, say). What it returns, joined, is
 * what {@link Masker.mask} makes of the whole text; it holds back at most the length of the
 * longest masked form (a secret, or an escaped form of one) less one character, plus the escape
 * sequences between those characters, and only while that text could start a masked form.
 */
export class StreamMasker<N extends string = string> {
  /** The text held back, as the streams it came from. */
  private held: StreamPiece<N>[] = [];
  private readonly matcher: FormMatcher | null;

  constructor(masker: Masker) {
    this.matcher = masker.matcher();
  }

  /**
   * Takes the next chunk, of stream `name`; returns the masked text that is now final, in order
   * (maybe none). Adjacent text of one stream comes as one piece; no piece is empty.
   */
  push(name: N, chunk: string): StreamPiece<N>[] {
    const pieces = [...this.held, { name, text: chunk }];
    const text = pieces.map((p) => p.text).join('');
    if (this.matcher === null) {
      this.held = [];
      return joinPieces(pieces);
    }
    let cut = text.length - this.matcher.heldBack(text);
    // Never cut inside a match: it is masked whole now.
    const matches = this.matcher.find(text, cut);
    for (const [, end] of matches) {
      cut = Math.max(cut, end);
    }
    const [ready, rest] = splitPieces(pieces, cut);
    this.held = rest;
    return joinPieces(maskPieces(ready, matches));
  }

  /** The text held back, masked; the text starts afresh. */
  flush(): StreamPiece<N>[] {
    const rest = this.held;
    this.held = [];
    if (rest.length === 0) {
      return [];
    }
    const text = rest.map((p) => p.text).join('');
    const matches = this.matcher === null ? [] : this.matcher.find(text);
    return joinPieces(maskPieces(rest, matches));
  }

  /** Whether text is held back. */
  get pending(): boolean {
    return this.held.length > 0;
  }
}

/** The pieces before offset `cut` of their joined text, and those from it on. */
function splitPieces<N extends string>(
  pieces: StreamPiece<N>[],
  cut: number,
): [StreamPiece<N>[], StreamPiece<N>[]] {
  const before: StreamPiece<N>[] = [];
  const after: StreamPiece<N>[] = [];
  let start = 0;
  for (const piece of pieces) {
    const end = start + piece.text.length;
    if (end <= cut) {
      before.push(piece);
    } else if (start >= cut) {
      after.push(piece);
    } else {
      before.push({ name: piece.name, text: piece.text.slice(0, cut - start) });
      after.push({ name: piece.name, text: piece.text.slice(cut - start) });
    }
    start = end;
  }
  return [before, after.filter((p) => p.text !== '')];
}

/**
 * The pieces with the ranges `matches` (offsets in their joined text, in order, not overlapping)
 * masked: a match becomes {@link MASK} in the piece where it starts and is cut out of the pieces
 * it runs on into.
 */
function maskPieces<N extends string>(
  pieces: StreamPiece<N>[],
  matches: [number, number][],
): StreamPiece<N>[] {
  if (matches.length === 0) {
    return pieces;
  }
  const out: StreamPiece<N>[] = [];
  let next = 0;
  let start = 0;
  for (const piece of pieces) {
    const end = start + piece.text.length;
    let text = '';
    let pos = start;
    while (pos < end) {
      const match = matches[next];
      if (match === undefined || match[0] >= end) {
        text += piece.text.slice(pos - start);
        break;
      }
      if (match[0] >= pos) {
        text += piece.text.slice(pos - start, match[0] - start) + MASK;
      }
      pos = Math.min(match[1], end);
      if (match[1] <= end) {
        next += 1;
      }
    }
    out.push({ name: piece.name, text });
    start = end;
  }
  return out;
}

/** The pieces with adjacent ones of one stream joined and empty ones left out. */
function joinPieces<N extends string>(pieces: StreamPiece<N>[]): StreamPiece<N>[] {
  const out: StreamPiece<N>[] = [];
  for (const piece of pieces) {
    if (piece.text === '') {
      continue;
    }
    const last = out[out.length - 1];
    if (last !== undefined && last.name === piece.name) {
      last.text += piece.text;
    } else {
      out.push({ name: piece.name, text: piece.text });
    }
  }
  return out;
}
