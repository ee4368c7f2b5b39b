import { Masker } from '../../../../pipelines/secrets/mask';
import { StreamMasker } from '../../../../pipelines/secrets/stream-mask';

function masked(secrets: string[], chunks: string[]): { out: string; pieces: string[] } {
  const stream = new StreamMasker(new Masker(secrets));
  const pieces = chunks.map((c) => stream.push(c));
  pieces.push(stream.flush());
  return { out: pieces.join(''), pieces };
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
        expect(out).toBe('token=****; again ****.');
      }
    }
  });

  it('holds back only what could start a secret', () => {
    const { pieces } = masked(['s3cret'], ['progress 10%\n', 'loss s3', 'x\n']);
    expect(pieces[0]).toBe('progress 10%\n');
    expect(pieces[1]).toBe('loss ');
    expect(pieces[2]).toBe('s3x\n');
  });

  it('masks the longer of two secrets that start alike', () => {
    expect(masked(['abc', 'abcdef'], ['xxabc', 'def yy abc']).out).toBe('xx**** yy ****');
  });

  it('passes text through unchanged with nothing to mask', () => {
    expect(masked([], ['a', 'b']).pieces).toEqual(['a', 'b', '']);
  });
});
