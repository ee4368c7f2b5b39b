import { MASK, Masker } from '../../../../pipelines/secrets/mask';
import { StreamMasker, type StreamPiece } from '../../../../pipelines/secrets/stream-mask';

type Name = 'stdout' | 'stderr';

/** Pushes each chunk (stdout unless named), then flushes; what came out, step by step. */
function masked(
  secrets: string[],
  chunks: (string | StreamPiece<Name>)[],
): { out: string; steps: StreamPiece<Name>[][]; text: (name: Name) => string } {
  const stream = new StreamMasker<Name>(new Masker(secrets));
  const steps = chunks.map((c) =>
    typeof c === 'string' ? stream.push('stdout', c) : stream.push(c.name, c.text),
  );
  steps.push(stream.flush());
  const all = steps.flat();
  return {
    out: all.map((p) => p.text).join(''),
    steps,
    text: (name) =>
      all
        .filter((p) => p.name === name)
        .map((p) => p.text)
        .join(''),
  };
}

/** Reversed, so a failing expectation never prints a secret as it is. */
function reversed(text: string): string {
  return [...text].reverse().join('');
}

describe('StreamMasker', () => {
  it('masks a secret split across chunks, whatever the split', () => {
    const text = 'token=hunter2-abc; again hunter2-abc.';
    for (let cut = 0; cut <= text.length; cut++) {
      for (let cut2 = cut; cut2 <= text.length; cut2 += 3) {
        const { out } = masked(
          ['hunter2-abc'],
          [text.slice(0, cut), text.slice(cut, cut2), text.slice(cut2)],
        );
        expect(reversed(out)).toBe(reversed(`token=${MASK}; again ${MASK}.`));
      }
    }
  });

  it('masks a secret printed one character at a time', () => {
    const secret = 's3cr3t-XYZ';
    const { out, steps } = masked([secret], ['pw: ', ...secret, '\n']);
    expect(reversed(out)).toBe(reversed(`pw: ${MASK}\n`));
    // Nothing of it came out before the whole of it had.
    for (const step of steps.slice(1, secret.length)) {
      expect(step).toEqual([]);
    }
  });

  it('holds back only what could start a secret, and only until the next chunk', () => {
    const { steps } = masked(['s3cret'], ['progress 10%\n', 'loss s3', 'x\n']);
    expect(steps[0]).toEqual([{ name: 'stdout', text: 'progress 10%\n' }]);
    expect(steps[1]).toEqual([{ name: 'stdout', text: 'loss ' }]);
    expect(steps[2]).toEqual([{ name: 'stdout', text: 's3x\n' }]);
    expect(steps[3]).toEqual([]);
  });

  it('holds back at most the longest secret less one character', () => {
    const secrets = ['abcdefgh', 'abc'];
    const stream = new StreamMasker(new Masker(secrets));
    expect(stream.push('stdout', 'xx' + 'abcdefg')).toEqual([{ name: 'stdout', text: 'xx' }]);
    expect(stream.pending).toBe(true);
    expect(stream.flush()).toEqual([{ name: 'stdout', text: `${MASK}defg` }]);
    expect(stream.pending).toBe(false);
  });

  it('masks the longer of two secrets that start alike, and the shorter alone', () => {
    expect(masked(['abc', 'abcdef'], ['xxabc', 'def yy abc']).out).toBe(`xx${MASK} yy ${MASK}`);
    expect(masked(['abcdef', 'abc'], ['xxab', 'c', ' d']).out).toBe(`xx${MASK} d`);
    expect(masked(['abc', 'abcdef'], ['abcde', '!']).out).toBe(`${MASK}de!`);
  });

  it('masks what Masker.mask masks in the joined text, whatever the chunks', () => {
    const secrets = ['abc', 'bcdef', 'cd', 'xyzxyz'];
    const masker = new Masker(secrets);
    const text = 'abcdef xyzxyxyzxyz bcd abcd cdcd abcdefxyz';
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) {
        chunks.push(text.slice(i, i + size));
      }
      expect(masked(secrets, chunks).out).toBe(masker.mask(text));
    }
  });

  it('masks a secret printed half to stdout and half to stderr, where it started', () => {
    const secret = 'top-s3cret';
    const { out, text } = masked(
      [secret],
      [
        { name: 'stdout', text: 'a ' + secret.slice(0, 4) },
        { name: 'stderr', text: secret.slice(4) + ' b\n' },
      ],
    );
    expect(reversed(out)).toBe(reversed(`a ${MASK} b\n`));
    expect(text('stdout')).toBe(`a ${MASK}`);
    expect(text('stderr')).toBe(' b\n');
  });

  it('keeps the order of the streams and joins adjacent text of one stream', () => {
    const { steps, out } = masked(
      ['zz-secret'],
      [
        { name: 'stdout', text: 'one ' },
        { name: 'stderr', text: 'two ' },
        { name: 'stdout', text: 'zz-' },
        { name: 'stdout', text: 'sec' },
        { name: 'stderr', text: 'ret three' },
      ],
    );
    expect(out).toBe(`one two ${MASK} three`);
    expect(steps.flat()).toEqual([
      { name: 'stdout', text: 'one ' },
      { name: 'stderr', text: 'two ' },
      { name: 'stdout', text: MASK },
      { name: 'stderr', text: ' three' },
    ]);
  });

  it('releases held text unmasked when it turns out not to be a secret', () => {
    const { steps } = masked(
      ['secret'],
      [
        { name: 'stdout', text: 'se' },
        { name: 'stderr', text: 'x' },
      ],
    );
    expect(steps.flat()).toEqual([
      { name: 'stdout', text: 'se' },
      { name: 'stderr', text: 'x' },
    ]);
  });

  it('passes text through unchanged with nothing to mask', () => {
    const { steps } = masked([], ['a', { name: 'stderr', text: 'b' }]);
    expect(steps).toEqual([[{ name: 'stdout', text: 'a' }], [{ name: 'stderr', text: 'b' }], []]);
  });

  describe('with terminal escape sequences between the characters', () => {
    const secret = 'hunter2-abc';
    /** The secret with escapes of every kind between its characters, inside coloured text. */
    const split = ['hu', 'nt', 'er', '2-', 'ab', 'c']
      .join('\x1b[31m')
      .replace('2-', '2\x1b]0;t\x07-');
    const text = `pw \x1b[1m${split.replace('ab', 'a\x9b0mb')}\x1b[0m; again \x1b]8;;u\x1b\\${split}!\n`;
    const want = `pw \x1b[1m${MASK}\x1b[0m; again \x1b]8;;u\x1b\\${MASK}!\n`;

    it('masks a secret whose chunk ends inside an escape between its characters', () => {
      const { out, steps } = masked(['abcd'], ['x ab\x1b[3', '1mcd y']);
      expect(out).toBe(`x ${MASK} y`);
      expect(steps[0]).toEqual([{ name: 'stdout', text: 'x ' }]);
    });

    it('masks it whatever the cuts, escapes cut at every position', () => {
      expect(new Masker([secret]).mask(text)).toBe(want);
      for (let cut = 0; cut <= text.length; cut++) {
        for (let cut2 = cut; cut2 <= text.length; cut2 += 5) {
          const { out } = masked(
            [secret],
            [text.slice(0, cut), text.slice(cut, cut2), text.slice(cut2)],
          );
          expect([cut, cut2, reversed(out)]).toEqual([cut, cut2, reversed(want)]);
        }
      }
    });

    it('masks it printed one character at a time', () => {
      const { out } = masked([secret], [...text]);
      expect(reversed(out)).toBe(reversed(want));
    });

    it('masks what Masker.mask masks in the joined text, whatever the chunks', () => {
      const secrets = ['abc', 'bcdef', 'cd'];
      const masker = new Masker(secrets);
      const sample = 'a\x1b[1mbc\x1b[0mdef x\x1b[Kcd\x1b]0;t\x07 ab\x1b[31m\x1b[1mc \x1b[3';
      for (let size = 1; size <= 7; size++) {
        const chunks: string[] = [];
        for (let i = 0; i < sample.length; i += size) {
          chunks.push(sample.slice(i, i + size));
        }
        expect(masked(secrets, chunks).out).toBe(masker.mask(sample));
      }
    });

    it('holds back escapes between characters of a secret, until the next chunk', () => {
      const { steps } = masked(['s3cret'], ['loss s3\x1b[1m', '\x1b[0', 'm', 'x\n']);
      expect(steps[0]).toEqual([{ name: 'stdout', text: 'loss ' }]);
      expect(steps[1]).toEqual([]);
      expect(steps[2]).toEqual([]);
      expect(steps[3]).toEqual([{ name: 'stdout', text: 's3\x1b[1m\x1b[0mx\n' }]);
    });

    it('holds back no escape that cannot be inside a secret', () => {
      const stream = new StreamMasker(new Masker(['s3cret']));
      for (const chunk of [
        '\x1b[32mloss\x1b[0m 0.5\n',
        'epoch \x1b[3',
        '1m2\x1b]0;ti',
        'tle\x07 s',
      ]) {
        expect(stream.push('stdout', chunk)).toEqual([
          { name: 'stdout', text: chunk.endsWith(' s') ? chunk.slice(0, -1) : chunk },
        ]);
      }
      expect(stream.flush()).toEqual([{ name: 'stdout', text: 's' }]);
    });

    it('holds back at most the longest secret less one character, and the escapes among them', () => {
      const stream = new StreamMasker(new Masker(['abcdefgh', 'abc']));
      const start = [...'abcdefg'].join('\x1b[1m');
      expect(stream.push('stdout', 'xx\x1b[1m' + start)).toEqual([
        { name: 'stdout', text: 'xx\x1b[1m' },
      ]);
      expect(stream.flush()).toEqual([
        { name: 'stdout', text: `${MASK}\x1b[1md\x1b[1me\x1b[1mf\x1b[1mg` },
      ]);
    });

    it('masks a secret split by escapes and between stdout and stderr, where it started', () => {
      const { text: of } = masked(
        ['top-s3cret'],
        [
          { name: 'stdout', text: 'a top\x1b[1m-s' },
          { name: 'stderr', text: '3c\x1b[0mret b\n' },
        ],
      );
      expect(of('stdout')).toBe(`a ${MASK}`);
      expect(of('stderr')).toBe(' b\n');
    });
  });
});
