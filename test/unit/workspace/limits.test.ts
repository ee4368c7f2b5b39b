/**
 * The bounds of a workspace: the size check names the limit, the total and the heaviest files
 * and top-level folders; the file-count error names the fullest folders.
 */
import { WorkspaceLimitError } from '../../../pipelines/errors';
import {
  checkWorkspaceBytes,
  heaviestEntries,
  tooManyFilesError,
} from '../../../pipelines/workspace/limits';

const MIB = 1024 * 1024;

describe('heaviestEntries', () => {
  it('ranks files and top-level folders together, heaviest first, five at most', () => {
    const items = [
      { path: 'data/a.bin', size: 30 * MIB },
      { path: 'data/b.bin', size: 20 * MIB },
      { path: 'models/m.pt', size: 40 * MIB },
      { path: 'notes.md', size: 1 },
      { path: 'src/x.py', size: 2 },
      { path: 'src/y.py', size: 2 },
    ];
    expect(heaviestEntries(items, (i) => i.size)).toEqual([
      { path: 'data/', amount: 50 * MIB },
      { path: 'models/', amount: 40 * MIB },
      { path: 'models/m.pt', amount: 40 * MIB },
      { path: 'data/a.bin', amount: 30 * MIB },
      { path: 'data/b.bin', amount: 20 * MIB },
    ]);
  });
});

describe('checkWorkspaceBytes', () => {
  it('passes at the limit and refuses past it, naming limit, total and the largest', () => {
    const items = [
      { path: 'data/big.bin', size: 3 * MIB },
      { path: 'small.txt', size: 1024 },
    ];
    expect(() => checkWorkspaceBytes('/w', items, 3 * MIB + 1024)).not.toThrow();
    let err: unknown;
    try {
      checkWorkspaceBytes('/w', items, 2 * MIB);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WorkspaceLimitError);
    const limit = err as WorkspaceLimitError;
    expect(limit.field).toBe('workspace');
    expect(limit.exitCode).toBe(2);
    expect(limit.limit).toBe('bytes');
    expect(limit.total).toBe(3 * MIB + 1024);
    expect(limit.largest[0]).toEqual({ path: 'data/', amount: 3 * MIB });
    expect(limit.message).toContain('over the limit of 2 MiB (--max-workspace)');
    expect(limit.message).toContain('holds 3.0 MiB in 2 files');
    expect(limit.message).toContain('data/big.bin (3 MiB)');
  });
});

describe('tooManyFilesError', () => {
  it('names the fullest top-level folders', () => {
    const seen = [
      ...Array.from({ length: 3 }, (_, i) => ({ path: `gen/${i}`, size: 0 })),
      { path: 'src/a.py', size: 0 },
      { path: 'top.txt', size: 0 },
    ];
    const err = tooManyFilesError('/w', seen, 4);
    expect(err.limit).toBe('files');
    expect(err.largest).toEqual([
      { path: 'gen/', amount: 3 },
      { path: 'src/', amount: 1 },
    ]);
    expect(err.message).toContain('more than 4 files and symlinks');
    expect(err.message).toContain('gen/ (3 files)');
  });
});
