/**
 * What does not travel with a workspace: the built-in folders (at any depth), the patterns of
 * the root's `.nbstageignore` and the `--exclude` globs, both in gitignore syntax through the
 * `ignore` package (the matcher ESLint uses). Also the globs of `--outputs`, which select
 * rather than exclude, with the same syntax.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { ValidationError } from '../errors';

/**
 * Names never sent nor brought back, at any depth and whatever their type (a `.git` file of a
 * git worktree, a `.venv` symlink): version control, nbstage's own home, dependencies, virtual
 * environments, Python's byte code and Jupyter's checkpoints. A `.nbstageignore` cannot
 * re-include them.
 */
export const BUILTIN_EXCLUDES: readonly string[] = [
  '.git',
  '.nbstage',
  'node_modules',
  '.venv',
  '__pycache__',
  '.ipynb_checkpoints',
];

/**
 * The prefix of the temporary names nbstage writes a file under before renaming it into place;
 * one left behind by a crash is never sent nor brought back either.
 */
export const TEMP_PREFIX = '.nbstage-tmp-';

/** The file at the root of a workspace whose patterns (gitignore syntax) are not sent. */
export const IGNORE_FILE = '.nbstageignore';

const BUILTIN = new Set(BUILTIN_EXCLUDES);

/** Whether a name (one part of a path) is excluded whatever the patterns say. */
export function isBuiltinExcluded(name: string): boolean {
  return BUILTIN.has(name) || name.startsWith(TEMP_PREFIX);
}

/** Decides, for one path relative to the root, whether it stays behind. */
export interface ExcludeRules {
  /**
   * Whether the entry at `rel` (relative, `/`-separated) is left out; `isDir` for a folder,
   * whose patterns with a trailing `/` (`build/`) match only folders, as in git.
   */
  excludes(rel: string, isDir: boolean): boolean;
}

/** The built-in names alone: what a run's copy never brings back (`__pycache__` of a kernel). */
export const BUILTIN_RULES: ExcludeRules = {
  excludes: (rel) => isBuiltinExcluded(path.posix.basename(rel)),
};

/**
 * Whether a line of gitignore syntax is a pattern at all: blank lines (trailing spaces are
 * dropped unless escaped) and `#` comments match nothing.
 */
function isPattern(line: string): boolean {
  return line.trim() !== '' && !line.startsWith('#');
}

/**
 * A gitignore matcher for `patterns`.
 *
 * @throws ValidationError naming `field` for a pattern the matcher refuses
 */
function matcher(patterns: readonly string[], field: string): Ignore {
  try {
    // Case-sensitive, as git on Linux (the workers' system) matches.
    return ignore({ ignorecase: false }).add(patterns);
  } catch (err) {
    throw new ValidationError(field, `${field}: ${(err as Error).message}`);
  }
}

/**
 * The rules of a scan: the built-in names, the root's `.nbstageignore` (when there is one) and
 * `exclude` (`--exclude`). Patterns have gitignore semantics, relative to the root: `*.log`
 * matches at any depth, `data/raw/` that folder only, `/notes.md` the root's only, `!keep.log`
 * re-includes a file (not one below an excluded folder, as in git); case-sensitive, as git on
 * Linux.
 */
export async function loadExcludeRules(
  root: string,
  exclude: readonly string[] = [],
): Promise<ExcludeRules> {
  let text = '';
  try {
    text = await readFile(path.join(root, IGNORE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ValidationError(
        'workspace',
        `cannot read ${IGNORE_FILE} of ${root}: ${(err as Error).message}`,
      );
    }
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const fromFile = matcher(lines, IGNORE_FILE);
  const fromOption = matcher(exclude, '--exclude');
  if (![...lines, ...exclude].some(isPattern)) {
    // Only the built-in names: asking the matchers about each of 10,000 paths costs a run.
    return BUILTIN_RULES;
  }
  return {
    excludes(rel, isDir) {
      if (isBuiltinExcluded(path.posix.basename(rel))) {
        return true;
      }
      const probe = isDir ? `${rel}/` : rel;
      return fromFile.ignores(probe) || fromOption.ignores(probe);
    },
  };
}

/**
 * A selector for `--outputs` globs (gitignore syntax, as `--exclude`: `model/` selects the
 * folder's files, `*.json` every JSON file, `!model/*.tmp` after `model/**` takes some back;
 * as in git, a negation cannot take back a path whose folder was selected as a folder, so
 * `model/` then `!model/x.tmp` still selects `model/x.tmp`); no globs selects everything.
 */
export function outputSelector(globs: readonly string[] | undefined): (rel: string) => boolean {
  if (globs === undefined || globs.length === 0) {
    return () => true;
  }
  const selected = matcher(globs, '--outputs');
  return (rel) => selected.ignores(rel);
}
