/**
 * The manifests of a process by digest: read once, the least recently used dropped past the
 * entries it may hold, and "every content is there" remembered per store only once it was true.
 */
import type { BlobSource } from '../../../pipelines/workspace/blob-dir';
import { createManifest, type Manifest } from '../../../pipelines/workspace/manifest';
import { validateManifest } from '../../../pipelines/workspace/validate-manifest';
import { ManifestCache } from '../../../server/runs/manifest-cache';

const hex = (n: number): string => n.toString(16).padStart(64, '0');

function manifestOf(count: number, from = 0): Manifest {
  return createManifest(
    Array.from({ length: count }, (_, i) => ({
      path: `f${from + i}.txt`,
      type: 'file' as const,
      sha256: hex(from + i + 1),
      size: 1,
      mode: 0o644,
    })),
  );
}

/** A store holding `held`, counting the lookups it answers. */
function store(held: Set<string>): BlobSource & { asked: number } {
  const source = {
    asked: 0,
    path(sha256: string): string | null {
      source.asked += 1;
      return held.has(sha256) ? `/blobs/${sha256}` : null;
    },
  };
  return source;
}

describe('ManifestCache', () => {
  it('keeps manifests up to its entries, dropping the least recently used', () => {
    const cache = new ManifestCache(10);
    const a = manifestOf(4);
    const b = manifestOf(4, 10);
    const c = manifestOf(4, 20);
    cache.add('a', a);
    cache.add('b', b);
    expect(cache.get('a')).toBe(a); // a is now the most recently used
    cache.add('c', c);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(a);
    expect(cache.get('c')).toBe(c);
    // One larger than the whole cache is not kept at all.
    cache.add('big', manifestOf(11));
    expect(cache.get('big')).toBeUndefined();
  });

  it('asks the store until every content is there, then no more', () => {
    const cache = new ManifestCache();
    const manifest = manifestOf(3);
    cache.add('m', manifest);
    const held = new Set([hex(1), hex(2)]);
    const blobs = store(held);
    expect(cache.missingContents('m', manifest, blobs).map((e) => e.path)).toEqual(['f2.txt']);
    expect(blobs.asked).toBe(3);
    held.add(hex(3));
    expect(cache.missingContents('m', manifest, blobs)).toEqual([]);
    expect(blobs.asked).toBe(6);
    expect(cache.missingContents('m', manifest, blobs)).toEqual([]);
    expect(blobs.asked).toBe(6);
    // Another store is asked for itself.
    const other = store(new Set());
    expect(cache.missingContents('m', manifest, other)).toHaveLength(3);
  });
});

describe('validated manifests', () => {
  it('are frozen and returned as they are when validated again', () => {
    const checked = validateManifest(JSON.parse(JSON.stringify(manifestOf(2))));
    expect(Object.isFrozen(checked)).toBe(true);
    expect(Object.isFrozen(checked.entries[0])).toBe(true);
    expect(validateManifest(checked)).toBe(checked);
    // The entry limit still holds for one validated before.
    expect(() => validateManifest(checked, { maxEntries: 1 })).toThrow('more than the 1');
  });
});
