/**
 * The `nbstageRun` step explains every exit code the catalogue can end a run with, and no exit
 * code the catalogue does not have.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CATALOGUE } from '../../../pipelines/errors';

const step = fs.readFileSync(
  path.resolve(__dirname, '../../../jenkins-plugin-bridge/vars/nbstageRun.groovy'),
  'utf8',
);

/** The exit codes of `exitMeaning`'s map: `N: 'meaning'` lines inside `Map meanings = [...]`. */
function explained(): Set<number> {
  const block = /String exitMeaning\(int code\)\s*\{\s*Map meanings = \[([^\]]*)\]/.exec(step);
  if (block === null || block[1] === undefined) {
    throw new Error('exitMeaning has no `Map meanings = [...]` in nbstageRun.groovy');
  }
  return new Set([...block[1].matchAll(/^\s*(\d+):\s*'/gm)].map((m) => Number(m[1])));
}

describe('nbstageRun.groovy exit meanings', () => {
  const exits = new Set<number>(Object.values(ERROR_CATALOGUE).map((e) => e.exit));
  const meanings = explained();

  it.each([...exits].map((exit) => [exit]))('explains exit %d', (exit) => {
    expect(meanings.has(exit)).toBe(true);
  });

  it('explains no exit code the catalogue lacks', () => {
    expect([...meanings].filter((exit) => !exits.has(exit))).toEqual([]);
  });
});
