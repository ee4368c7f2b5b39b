import type { Output } from '../../../../pipelines/notebook/model';
import { MASK, Masker } from '../../../../pipelines/secrets/mask';

describe('Masker', () => {
  it('is inactive without secrets and returns inputs untouched', () => {
    const masker = new Masker([]);
    expect(masker.active).toBe(false);
    expect(masker.mask('hunter2')).toBe('hunter2');
    const value = { a: ['x'] };
    expect(masker.maskValue(value)).toBe(value);
    const output: Output = { output_type: 'stream', name: 'stdout', text: 'x' };
    expect(masker.maskOutput(output)).toBe(output);
  });

  it('ignores empty secrets', () => {
    expect(new Masker(['']).active).toBe(false);
    expect(new Masker(['', 'a']).active).toBe(true);
  });

  it('replaces every occurrence', () => {
    const masker = new Masker(['hunter2']);
    expect(masker.mask('pw=hunter2; again hunter2!')).toBe(`pw=${MASK}; again ${MASK}!`);
    expect(masker.mask('nothing here')).toBe('nothing here');
  });

  it('masks the longest secret first', () => {
    const masker = new Masker(['abc', 'abcdef']);
    expect(masker.mask('xabcdefx abc')).toBe(`x${MASK}x ${MASK}`);
    // and the same regardless of the order given
    expect(new Masker(['abcdef', 'abc']).mask('abcdef')).toBe(MASK);
  });

  it('treats regular-expression characters literally', () => {
    const masker = new Masker(['a.b*c(']);
    expect(masker.mask('a.b*c( aXbbc(')).toBe(`${MASK} aXbbc(`);
  });

  it('masks the JSON-escaped form of a secret', () => {
    const secret = 'pa"ss\\wo\nrd';
    const masker = new Masker([secret]);
    const json = JSON.stringify({ password: secret });
    expect(json).not.toContain(secret);
    expect(masker.mask(json)).toBe(`{"password":"${MASK}"}`);
  });

  it("masks Python's ensure_ascii JSON form of non-ASCII secrets", () => {
    const masker = new Masker(['pässwörd']);
    expect(masker.mask('{"pw": "p\\u00e4ssw\\u00f6rd"}')).toBe(`{"pw": "${MASK}"}`);
    expect(masker.mask('pässwörd')).toBe(MASK);
  });

  it('masks the Python repr form of a secret', () => {
    const masker = new Masker(["it's\tme\\"]);
    // repr("it's\tme\\") == "\"it's\\tme\\\\\"" ; with both quotes: 'it\'s...'
    expect(masker.mask(`"it's\\tme\\\\"`)).toBe(`"${MASK}"`);
    expect(masker.mask(`'it\\'s\\tme\\\\'`)).toBe(`'${MASK}'`);
  });

  it('masks the percent-encoded form of a secret', () => {
    const masker = new Masker(['p@ss word']);
    expect(masker.mask('postgres://u:p%40ss%20word@db/x')).toBe(`postgres://u:${MASK}@db/x`);
  });

  it('masks JSON values deeply, keys included, without changing the input', () => {
    const masker = new Masker(['s3cr3t']);
    const value = { a: 's3cr3t', b: [1, 'xs3cr3tx', { s3cr3t: true }], c: null };
    const masked = masker.maskValue(value);
    expect(masked).toEqual({ a: MASK, b: [1, `x${MASK}x`, { [MASK]: true }], c: null });
    expect(value.a).toBe('s3cr3t');
  });

  it('masks stream outputs, also across list items', () => {
    const masker = new Masker(['top\nsecret']);
    const masked = masker.maskOutput({
      output_type: 'stream',
      name: 'stdout',
      text: ['the top\n', 'secret is out\n'],
    });
    expect(masked).toEqual({
      output_type: 'stream',
      name: 'stdout',
      text: [`the ${MASK} is out\n`],
    });
  });

  it('masks error outputs', () => {
    const masker = new Masker(['tok']);
    const masked = masker.maskOutput({
      output_type: 'error',
      ename: 'ValueError',
      evalue: 'bad tok',
      traceback: ['\x1b[31mValueError\x1b[0m: bad tok', 'line'],
    });
    expect(masked).toEqual({
      output_type: 'error',
      ename: 'ValueError',
      evalue: `bad ${MASK}`,
      traceback: [`\x1b[31mValueError\x1b[0m: bad ${MASK}`, 'line'],
    });
  });

  it('masks text and JSON mimetypes but leaves binary images alone', () => {
    const secret = 'QUJD'; // looks like base64 on purpose
    const masker = new Masker([secret]);
    const masked = masker.maskOutput({
      output_type: 'execute_result',
      execution_count: 1,
      data: {
        'text/plain': ['x QUJD\n', 'y'],
        'text/html': '<b>QUJD</b>',
        'application/json': { key: 'QUJD' },
        'application/vnd.nbstage.metric+json': { name: 'm', value: 'QUJD' },
        'image/png': 'iVBORQUJD',
        'image/svg+xml': '<svg><text>QUJD</text></svg>',
      },
      metadata: { note: 'QUJD' },
    });
    expect(masked).toEqual({
      output_type: 'execute_result',
      execution_count: 1,
      data: {
        'text/plain': [`x ${MASK}\n`, 'y'],
        'text/html': `<b>${MASK}</b>`,
        'application/json': { key: MASK },
        'application/vnd.nbstage.metric+json': { name: 'm', value: MASK },
        'image/png': 'iVBORQUJD',
        'image/svg+xml': `<svg><text>${MASK}</text></svg>`,
      },
      metadata: { note: MASK },
    });
  });

  it('is fast on large text', () => {
    const masker = new Masker(['alpha-secret', 'beta-secret', 'gamma']);
    const text = 'lorem ipsum dolor sit amet '.repeat(40000) + 'gamma';
    const start = Date.now();
    expect(masker.mask(text).endsWith(MASK)).toBe(true);
    expect(Date.now() - start).toBeLessThan(200);
  });
});

describe('Masker with terminal escape sequences between the characters', () => {
  const secret = 'abcdef';
  const masker = new Masker([secret]);

  it('masks a secret split by an SGR colour, the escape with it', () => {
    expect(masker.mask('abc\x1b[31mdef')).toBe(MASK);
    expect(masker.mask('pw=abc\x1b[0;1mdef!')).toBe(`pw=${MASK}!`);
    expect(masker.mask('ab\x1b[Kcdef')).toBe(MASK);
  });

  it('masks a secret split by several escapes, in several places and in a row', () => {
    expect(masker.mask([...secret].join('\x1b[1m'))).toBe(MASK);
    expect(masker.mask('a\x1b[0m\x1b[1;31m\x1b[4mbcd\x1b[38;2;255;0;0mef')).toBe(MASK);
    expect(masker.mask(`ab${'\x1b[0m'.repeat(16)}cdef`)).toBe(MASK);
  });

  it('masks a secret split by OSC sequences (BEL or ST ended) and by the 8-bit CSI', () => {
    expect(masker.mask('ab\x1b]0;a title\x07cdef')).toBe(MASK);
    expect(masker.mask('ab\x1b]8;;https://example.org/\x1b\\cd\x1b]8;;\x1b\\ef')).toBe(MASK);
    expect(masker.mask('abc\x9b31mdef')).toBe(MASK);
  });

  it('masks a secret split by the escapes that a plain console strips too', () => {
    // Two-byte sequences and a lone ESC, as stripAnsi removes them.
    expect(masker.mask('abc\x1bDdef')).toBe(MASK);
    expect(masker.mask('abc\x1bdef')).toBe(MASK);
  });

  it('keeps the escapes around a secret and masks the secret', () => {
    expect(masker.mask('\x1b[31mabcdef\x1b[0m')).toBe(`\x1b[31m${MASK}\x1b[0m`);
    expect(masker.mask('x \x1b[1m\x1b[31mab\x1b[0mcdef\x1b[0m y')).toBe(
      `x \x1b[1m\x1b[31m${MASK}\x1b[0m y`,
    );
    expect(masker.mask('\x1b]0;abcdef\x07')).toBe(`\x1b]0;${MASK}\x07`);
  });

  it('leaves text with escapes but without the secret unchanged', () => {
    const texts = [
      'abc\x1b[31mdeX',
      'abc \x1b[31mdef',
      'ab\x1b[31m\ncdef',
      'abc\x1b[\x01def',
      'abc\x1b]0;unended title def',
      '\x1b[32mINFO\x1b[0m epoch 1 \x1b[1mloss\x1b[0m 0.25\n',
      'abcde\x1b[31m',
    ];
    for (const text of texts) {
      expect(masker.mask(text)).toBe(text);
      expect(masker.reveals(text)).toBe(false);
    }
    expect(masker.reveals('abc\x1b[31mdef')).toBe(true);
  });

  it('masks the longest secret first, also split', () => {
    const two = new Masker(['abc', 'abcdef']);
    expect(two.mask('ab\x1b[1mcdef abc\x1b[1mde')).toBe(`${MASK} ${MASK}\x1b[1mde`);
  });

  it('masks escaped forms split by escapes, and a secret holding an escape as it is', () => {
    const quoted = new Masker(['pa"ss']);
    expect(quoted.mask('{"pw": "pa\\\x1b[1m"ss"}')).toBe(`{"pw": "${MASK}"}`);
    const withEscape = new Masker(['x\x1b[1my']);
    expect(withEscape.mask('a x\x1b[1my b')).toBe(`a ${MASK} b`);
  });

  it('masks a split secret in a coloured traceback', () => {
    const masked = masker.maskOutput({
      output_type: 'error',
      ename: 'ValueError',
      evalue: 'bad abcdef',
      traceback: ['\x1b[31mValueError\x1b[0m: bad \x1b[1mabc\x1b[0mdef'],
    });
    expect(masked).toMatchObject({
      evalue: `bad ${MASK}`,
      traceback: [`\x1b[31mValueError\x1b[0m: bad \x1b[1m${MASK}`],
    });
  });

  it('handles long and many secrets', () => {
    const long = Array.from({ length: 2500 }, (_, i) => 'Zm9v+/'.charAt(i % 6)).join('');
    const many = new Masker([long, ...Array.from({ length: 50 }, (_, i) => `token-${i}-xyz`)]);
    expect(many.mask(`k=${[...long].join('\x1b[1m')};`)).toBe(`k=${MASK};`);
    expect(many.mask('t\x1b[1moken-7-xyz token-49-x\x1b[0myz')).toBe(`${MASK} ${MASK}`);
  });
});
