/**
 * The canonical form of a manifest: entries sorted by the bytes of their UTF-8 paths, only the
 * fields of their type, and a digest that depends on the entries alone, not on their order.
 */
import {
  canonicalManifestJson,
  compareBytes,
  createManifest,
  manifestDigest,
  manifestTotals,
  type ManifestEntry,
} from '../../../pipelines/workspace';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function file(p: string, sha256 = SHA_A, size = 1, mode = 0o644): ManifestEntry {
  return { path: p, type: 'file', sha256, size, mode };
}

describe('createManifest', () => {
  it('sorts by UTF-8 bytes, not by UTF-16 code units', () => {
    // U+1F600 is a surrogate pair in UTF-16 (0xD83D...) but 0xF0... in UTF-8; U+FFFD is 0xEF...
    const emoji = '\u{1F600}.txt';
    const replacement = '\uFFFD.txt';
    expect(emoji < replacement).toBe(true); // JavaScript's order
    expect(compareBytes(emoji, replacement)).toBeGreaterThan(0); // byte order
    const m = createManifest([file(emoji), file(replacement), file('B'), file('a/b'), file('a')]);
    expect(m.entries.map((e) => e.path)).toEqual(['B', 'a', 'a/b', replacement, emoji]);
  });

  it('keeps only the fields of each type, in a fixed order', () => {
    const noisy = { ...file('x'), extra: 1 } as unknown as ManifestEntry;
    const link = { path: 'l', type: 'symlink', target: 'x', sha256: SHA_A } as ManifestEntry;
    expect(canonicalManifestJson(createManifest([link, noisy]))).toBe(
      '{"version":1,"entries":[{"path":"l","type":"symlink","target":"x"},' +
        `{"path":"x","type":"file","sha256":"${SHA_A}","size":1,"mode":420}]}`,
    );
  });
});

describe('manifestDigest', () => {
  it('is the same whatever the order of the entries, and changes with any field', () => {
    const entries = [
      file('a'),
      file('b', SHA_B, 2, 0o755),
      { path: 'c', type: 'symlink', target: '/x' } as const,
    ];
    const digest = manifestDigest(createManifest(entries));
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(manifestDigest({ version: 1, entries: [...entries].reverse() })).toBe(digest);
    expect(
      manifestDigest(createManifest([file('a'), file('b', SHA_B, 2, 0o644), entries[2]])),
    ).not.toBe(digest);
    expect(manifestDigest(createManifest([file('a'), file('b', SHA_B, 2, 0o755)]))).not.toBe(
      digest,
    );
  });
});

describe('manifestTotals', () => {
  it('counts files and their bytes, not symlinks', () => {
    const m = createManifest([
      file('a', SHA_A, 10),
      file('b', SHA_B, 5),
      { path: 'l', type: 'symlink', target: 'a' },
    ]);
    expect(manifestTotals(m)).toEqual({ files: 2, bytes: 15 });
  });
});
