/**
 * `safeNext`, where the login form sends a browser afterwards, fuzzed: the red team's input
 * (`/.//evil.example`, which normalized to `//evil.example`), hand-made variants of every trick
 * that turns a path into another host (dot segments, doubled and back slashes, encoded slashes,
 * tabs and line breaks, schemes, absolute URLs, very long values), their combinations, and
 * thousands of random strings over the characters those tricks use. For each: the result is a
 * fixed point (`safeNext(safeNext(x)) === safeNext(x)`) and a path of this origin, and the
 * `Location` of a real `POST /login` stays on it.
 */
import express from 'express';
import request from 'supertest';
import { Authenticator } from '../../../server/auth/authenticator';
import { memoryTokenStore } from '../../../server/auth/tokens';
import { postLogin, safeNext } from '../../../server/web/login';

/** The red team's value, and the tricks it is made of, by hand. */
const HAND_MADE = [
  '/.//evil.example',
  '/.//evil.example/x?y=1#z',
  '//evil.example',
  '///evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '\\/evil.example',
  '/%2F/evil.example',
  '/%2f%2fevil.example',
  '/%5C/evil.example',
  '/%5c%5cevil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/\r\n/evil.example',
  '/\t\t/evil.example',
  '\t//evil.example',
  ' //evil.example',
  '/ /evil.example',
  '/../evil.example',
  '/..//evil.example',
  '/a/..//evil.example',
  '/a/b/../..//evil.example',
  '/././/evil.example',
  '/.%2F/evil.example',
  '/%2E/%2Fevil.example',
  '/%2e%2e//evil.example',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  '/javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'https://evil.example/',
  'http://evil.example',
  'https:evil.example',
  'https:/evil.example',
  '//user@evil.example',
  '/@evil.example',
  '/login?next=//evil.example',
  '/LOGIN',
  '/logout/',
  '/.',
  '/..',
  '/',
  '',
  '/' + 'a'.repeat(5000),
  '/' + './'.repeat(2000) + '/evil.example',
  '/.' + '/'.repeat(3000) + 'evil.example',
  '/jobs/a%2Fb?x=1#c',
  '/jobs/team%2Fweb e2e/builds/3',
  '/jobs/é',
];

const PREFIXES = [
  '',
  '/',
  '//',
  '///',
  '/./',
  '/.//',
  '/../',
  '/..//',
  '/././/',
  '/%2E/',
  '/%2e%2e//',
  '\\',
  '/\\',
  '\\/',
  '\\\\',
  '/\t/',
  '/\n/',
  '/\r/',
  '\t/',
  ' /',
  '/%09/',
  '/%0a/',
  '/%2F',
  '/%2F/',
  '/%5C',
  '/%5C/',
  'javascript:',
  'https:',
  'http://',
  'https://',
  '/jobs/',
  '/login/',
  '/LOGIN',
  '/logout?',
  '/.',
  '/..',
  '/a/../',
  '/a/..//',
  '/a/./',
  '/%00/',
];
const RESTS = [
  'evil.example',
  'evil.example/x',
  '@evil.example',
  '%2F%2Fevil.example',
  'x?next=//evil',
  '#//evil',
  '\u3002evil',
  '',
  'a/b c?d=é#f',
  '/evil.example',
  '\\evil.example',
  './/evil',
];
/** Characters the tricks are made of, for random strings. */
const ALPHABET = [
  '/',
  '/',
  '/',
  '\\',
  '.',
  '.',
  '%',
  '2',
  'F',
  'f',
  '5',
  'C',
  'E',
  'e',
  '0',
  '9',
  'a',
  ':',
  '@',
  '?',
  '#',
  '\t',
  '\r',
  '\n',
  ' ',
  '\u0000',
  '\u007f',
  'é',
  '\u3002',
  'x',
  'evil.example',
  'javascript:',
  'login',
  'http:',
];

/** A small seeded generator (mulberry32), so that a failure comes back on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inputs(): string[] {
  const out = [...HAND_MADE];
  for (const prefix of PREFIXES) {
    for (const rest of RESTS) {
      out.push(prefix + rest, prefix + prefix + rest, `/${prefix}${rest}`);
    }
  }
  const next = random(12);
  for (let i = 0; i < 5000; i++) {
    const length = Math.floor(next() * 24);
    let text = next() < 0.7 ? '/' : '';
    for (let k = 0; k < length; k++) {
      text += ALPHABET[Math.floor(next() * ALPHABET.length)];
    }
    out.push(text);
  }
  return out;
}

/** Whether `target`, as a browser resolves it against a page of `base`, stays on base's origin. */
function staysOn(target: string, base: string): boolean {
  return new URL(target, base).origin === new URL(base).origin;
}

describe('safeNext', () => {
  const all = inputs();

  it('keeps a plain path of this site as it is', () => {
    expect(safeNext('/jobs/a%2Fb?x=1#c')).toBe('/jobs/a%2Fb?x=1#c');
    expect(safeNext('/runs/1')).toBe('/runs/1');
  });

  it("gives / for the red team's value", () => {
    expect(safeNext('/.//evil.example')).toBe('/');
    expect(safeNext(safeNext('/.//evil.example'))).toBe('/');
  });

  it(`is idempotent and gives a path of this origin for ${all.length} inputs`, () => {
    expect(all.length).toBeGreaterThan(6000);
    const bad: string[] = [];
    let kept = 0;
    for (const input of all) {
      const once = safeNext(input);
      const ok =
        safeNext(once) === once &&
        once.startsWith('/') &&
        !once.startsWith('//') &&
        !once.includes('\\') &&
        // eslint-disable-next-line no-control-regex -- looking for control characters is the point
        !/[\u0000-\u001f\u007f]/.test(once) &&
        once.length <= 2048 * 3 &&
        staysOn(once, 'https://nbstage.example/login?next=x') &&
        staysOn(once, 'http://127.0.0.1:8080/a/b/c') &&
        !/^\/(login|logout)(\/|$)/i.test(new URL(once, 'http://h').pathname);
      if (!ok) {
        bad.push(`${JSON.stringify(input).slice(0, 120)} -> ${JSON.stringify(once).slice(0, 120)}`);
      }
      if (once !== '/') {
        kept += 1;
      }
    }
    expect(bad).toEqual([]);
    // Not everything is refused: the fuzzing reaches paths that are kept, too.
    expect(kept).toBeGreaterThan(500);
  });

  it('gives / for anything but a string', () => {
    for (const value of [undefined, null, 1, ['/a'], { toString: () => '/a' }]) {
      expect(safeNext(value)).toBe('/');
    }
  });

  it('answers POST /login with a Location on this origin for every hand-made value', async () => {
    const tokens = memoryTokenStore();
    const { token } = await tokens.create({ role: 'read', name: 'test-safe-next' });
    const app = express();
    app.post(
      '/login',
      express.urlencoded({ extended: false }),
      postLogin(new Authenticator({ tokens })),
    );
    const values = [...HAND_MADE, ...PREFIXES.map((p) => `${p}evil.example`)];
    const seen: string[] = [];
    for (const next of values) {
      const res = await request(app).post('/login').type('form').send({ token, next });
      expect(res.status).toBe(303);
      const location = String(res.headers.location);
      if (!staysOn(location, 'http://127.0.0.1:8080/login') || location.startsWith('//')) {
        seen.push(`${JSON.stringify(next)} -> ${location}`);
      }
    }
    expect(seen).toEqual([]);
  });
});
