/**
 * validateManifest, the check of a manifest that arrives from outside: each bad entry refused
 * with the field named, so an HTTP answer can say which entry is wrong.
 */
import { ValidationError } from '../../../pipelines/errors';
import { validateManifest } from '../../../pipelines/workspace';

const SHA = '0'.repeat(63) + 'f';

function fileEntry(p: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { path: p, type: 'file', sha256: SHA, size: 3, mode: 0o644, ...extra };
}

function refusal(value: unknown): ValidationError {
  try {
    validateManifest(value);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error('the manifest was accepted');
}

function manifest(...entries: unknown[]): unknown {
  return { version: 1, entries };
}

describe('validateManifest', () => {
  it('accepts a valid manifest in any order and returns it sorted', () => {
    const m = validateManifest(
      manifest(
        fileEntry('src/b.py'),
        { path: 'data', type: 'symlink', target: '/mnt/data' },
        fileEntry('a.csv'),
      ),
    );
    expect(m.entries.map((e) => e.path)).toEqual(['a.csv', 'data', 'src/b.py']);
  });

  it.each([
    ['../x', 'must not leave the workspace'],
    ['a/../../x', 'must not leave the workspace'],
    ['/etc/passwd', 'must be relative to the workspace'],
    ['C:/x', 'must be relative to the workspace'],
    ['a\\b', 'must use "/" as separator'],
    ['a//b', 'must not have an empty or "." part'],
    ['./a', 'must not have an empty or "." part'],
    ['a/', 'must not have an empty or "." part'],
    ['', 'must be 1 to 4096 characters'],
    ['a\nb', 'must not contain NUL or control characters'],
    ['a\0b', 'must not contain NUL or control characters'],
  ])('refuses the path %j naming entries/1/path', (bad, why) => {
    const err = refusal(manifest(fileEntry('ok'), fileEntry(bad)));
    expect(err.field).toBe('entries/1/path');
    expect(err.message).toContain(why);
    expect(err.code).toBe('NBSTAGE_VALIDATION');
    expect(err.exitCode).toBe(2);
    expect(err.status).toBe(400);
  });

  it('refuses a path listed twice, naming the second', () => {
    const err = refusal(
      manifest(fileEntry('a'), fileEntry('b'), { path: 'a', type: 'symlink', target: 'b' }),
    );
    expect(err.field).toBe('entries/2/path');
    expect(err.message).toContain('listed twice (also entries/0/path)');
  });

  it('refuses a path below a file, and below a symlink (it would be written through the link)', () => {
    const below = refusal(manifest(fileEntry('a'), fileEntry('a/b')));
    expect(below.field).toBe('entries/1/path');
    expect(below.message).toContain('which entries/0 lists as a file');
    const through = refusal(
      manifest({ path: 'etc', type: 'symlink', target: '/etc' }, fileEntry('etc/passwd')),
    );
    expect(through.field).toBe('entries/1/path');
    expect(through.message).toContain('lists as a symlink');
  });

  it.each([
    ['A'.repeat(64), 'entries/0/sha256'],
    ['a'.repeat(63), 'entries/0/sha256'],
    ['g'.repeat(64), 'entries/0/sha256'],
    [42, 'entries/0/sha256'],
  ])('refuses the digest %j naming %s', (sha256, field) => {
    const err = refusal(manifest(fileEntry('a', { sha256 })));
    expect(err.field).toBe(field);
  });

  it.each([
    [{ size: -1 }, 'entries/0/size'],
    [{ size: 1.5 }, 'entries/0/size'],
    [{ mode: 0o1777 }, 'entries/0/mode'],
    [{ mode: '644' }, 'entries/0/mode'],
    [{ owner: 'root' }, 'entries/0/owner'],
    [{ type: 'fifo' }, 'entries/0/type'],
  ])('refuses %j naming %s', (extra, field) => {
    expect(refusal(manifest(fileEntry('a', extra))).field).toBe(field);
  });

  it('refuses a missing field, a symlink without a target or with NUL, a wrong version', () => {
    const noSha = fileEntry('a');
    delete noSha.sha256;
    expect(refusal(manifest(noSha)).field).toBe('entries/0/sha256');
    expect(refusal(manifest({ path: 'l', type: 'symlink' })).field).toBe('entries/0/target');
    expect(refusal(manifest({ path: 'l', type: 'symlink', target: '' })).field).toBe(
      'entries/0/target',
    );
    expect(refusal(manifest({ path: 'l', type: 'symlink', target: 'a\0b' })).field).toBe(
      'entries/0/target',
    );
    expect(refusal({ version: 2, entries: [] }).field).toBe('version');
    expect(refusal({ entries: [] }).field).toBe('version');
    expect(refusal({ version: 1, entries: {} }).field).toBe('entries');
    expect(refusal(null).field).toBe('manifest');
  });

  it('refuses more entries than allowed, naming entries', () => {
    let err: unknown;
    try {
      validateManifest(manifest(fileEntry('a'), fileEntry('b')), { maxEntries: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('entries');
    expect((err as ValidationError).message).toContain('2 entries, more than the 1');
  });
});
