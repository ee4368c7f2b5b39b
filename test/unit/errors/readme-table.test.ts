/**
 * Every error code nbstage can produce is listed in the README's error table, with the exit code
 * and HTTP status the code actually has.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as errors from '../../../pipelines/errors';

const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');

/** The README's table rows: code -> [exit, http]. */
function documented(): Map<string, [string, string]> {
  const rows = new Map<string, [string, string]>();
  for (const line of readme.split('\n')) {
    const m = /^\| `(NBSTAGE_[A-Z_]+)` \| (\d+) \| (\d+) \|/.exec(line);
    if (m) {
      rows.set(m[1], [m[2], m[3]]);
    }
  }
  return rows;
}

/** One instance of every error class exported by pipelines/errors. */
function instances(): errors.NbstageError[] {
  const out: errors.NbstageError[] = [];
  for (const value of Object.values(errors)) {
    if (typeof value === 'function' && value.prototype instanceof errors.NbstageError) {
      const Ctor = value as unknown as new (...args: unknown[]) => errors.NbstageError;
      // Constructors take strings/numbers; 'cell' selects TimeoutError's cell variant.
      out.push(new Ctor('cell', 'x', 'y', []));
      if (value === errors.TimeoutError) {
        out.push(new Ctor('run', 1));
      }
    }
  }
  return out;
}

describe('README error table', () => {
  const rows = documented();
  const all = instances();

  it('finds the error classes and the table', () => {
    expect(all.length).toBeGreaterThan(10);
    expect(rows.size).toBeGreaterThan(10);
  });

  it.each(all.map((e) => [e.code, e] as const))(
    'lists %s with its exit code and status',
    (code, err) => {
      expect(rows.get(code)).toEqual([String(err.exitCode), String(err.status)]);
    },
  );

  it('lists no code that does not exist', () => {
    const codes = new Set(all.map((e) => e.code));
    expect([...rows.keys()].filter((c) => !codes.has(c))).toEqual([]);
  });
});
