/**
 * Names built from the pieces git refuses in refs or that could collide once escaped: the
 * inputs of the property tests of the ref-name mapping (unit and against the real git).
 */
import { validateJobName } from '../../../server/store/ref-names';

/** Pieces of names that git refuses in refs, or that could collide after escaping. */
export const TRICKY_PIECES = [
  'a',
  'B',
  'train',
  '.',
  '..',
  '...',
  '/',
  ' ',
  '-',
  '--',
  '@',
  '@{',
  '{',
  '}',
  '.lock',
  '.LOCK',
  '~',
  '^',
  ':',
  '?',
  '*',
  '[',
  '\\',
  '%',
  '%2F',
  '%20',
  '_',
  '+',
  '=',
  ',',
  '#',
  '!',
  '"',
  "'",
  '\u0000',
  '\u0001',
  '\n',
  '\t',
  '\u007f',
  'é',
  'e\u0301',
  '日本',
  '😀',
  '\u200b',
  'HEAD',
];

/** A seeded generator of tricky names (valid job names only). */
export function trickyNames(count: number, seed = 1): string[] {
  let x = seed >>> 0 || 1;
  const next = (n: number): number => {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const names = new Set<string>();
  while (names.size < count) {
    const parts = 1 + next(6);
    let name = '';
    for (let i = 0; i < parts; i++) {
      name += TRICKY_PIECES[next(TRICKY_PIECES.length)];
    }
    try {
      validateJobName(name);
      names.add(name);
    } catch {
      // empty folder names (leading, trailing or double "/") are not job names
    }
  }
  return [...names];
}
