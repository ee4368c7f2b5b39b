/**
 * The selector of `--outputs` (gitignore syntax, as `--exclude`) and the built-in names that never
 * travel, whatever their depth.
 */
import { BUILTIN_EXCLUDES, outputSelector } from '../../../pipelines/workspace';
import { BUILTIN_RULES, isBuiltinExcluded } from '../../../pipelines/workspace/excludes';

describe('outputSelector', () => {
  it('selects everything without globs', () => {
    expect(outputSelector(undefined)('any/thing')).toBe(true);
    expect(outputSelector([])('x')).toBe(true);
  });

  it('selects by gitignore globs, with negation', () => {
    const selected = outputSelector(['model/**', '*.html', '!model/*.tmp']);
    expect(selected('model/model.json')).toBe(true);
    expect(selected('reports/deep/r.html')).toBe(true);
    expect(selected('model/x.tmp')).toBe(false);
    // as in git, a negation cannot take back a path whose folder a glob selected
    expect(outputSelector(['model/', '!model/x.tmp'])('model/x.tmp')).toBe(true);
    expect(selected('data/train.csv')).toBe(false);
    expect(selected('Model/model.json')).toBe(false); // case-sensitive, as git on Linux
  });
});

describe('the built-in excludes', () => {
  it.each(BUILTIN_EXCLUDES)('leaves out %s at the root and at any depth', (name) => {
    expect(isBuiltinExcluded(name)).toBe(true);
    expect(BUILTIN_RULES.excludes(`a/b/${name}`, true)).toBe(true);
    expect(BUILTIN_RULES.excludes(name, false)).toBe(true);
  });

  it('leaves out nbstage temporary names, and nothing else', () => {
    expect(isBuiltinExcluded('.nbstage-tmp-0123abcd')).toBe(true);
    expect(isBuiltinExcluded('.gitignore')).toBe(false);
    expect(isBuiltinExcluded('venv')).toBe(false);
    expect(BUILTIN_RULES.excludes('src/node_modules_notes.md', false)).toBe(false);
  });
});
