/**
 * Relative paths that name a file inside a folder nbstage writes into (an artifact's name, an
 * entry of a workspace manifest): checked before anything is written, so that no such path can
 * leave its folder or be read differently on another system.
 */
import { ValidationError } from '../errors';
import { hasControlCharacter } from './control-chars';

/** How {@link validateRelativePath} words and bounds its checks. */
export interface RelativePathRules {
  /** The folder the path lives in, as the messages name it: `the artifacts folder`. */
  readonly folder: string;
  /** The longest path accepted, in characters (UTF-16 code units). */
  readonly maxLength: number;
}

/**
 * What is wrong with a relative path, in words (`must not leave the workspace ("..")`), or null
 * when nothing is: it must be 1 to `maxLength` characters, `/`-separated, not absolute (nor a
 * Windows drive path), with no `..`, `.` or empty part, no `\`, no NUL or other control
 * character.
 */
export function relativePathProblem(name: string, rules: RelativePathRules): string | null {
  if (name.length === 0 || name.length > rules.maxLength) {
    return `must be 1 to ${rules.maxLength} characters`;
  }
  if (hasControlCharacter(name)) {
    return 'must not contain NUL or control characters';
  }
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) {
    return `must be relative to ${rules.folder}`;
  }
  if (name.includes('\\')) {
    return 'must use "/" as separator, not "\\"';
  }
  for (const part of name.split('/')) {
    if (part === '..') {
      return `must not leave ${rules.folder} ("..")`;
    }
    if (part === '' || part === '.') {
      return 'must not have an empty or "." part';
    }
  }
  return null;
}

/**
 * Checks a relative path by the rules of {@link relativePathProblem}.
 *
 * @param field - the field named in the error (`entries/3/path`)
 * @throws ValidationError naming `field`
 */
export function validateRelativePath(name: string, field: string, rules: RelativePathRules): void {
  const problem = relativePathProblem(name, rules);
  if (problem !== null) {
    throw new ValidationError(field, `${field}: ${JSON.stringify(name)} ${problem}`);
  }
}

/**
 * Checks an artifact's name: relative, `/`-separated, with no `..`, `.` or empty part, no `\`,
 * no NUL or other control character, at most 1024 characters.
 *
 * @param field - the field named in the error (`artifacts/0/name`)
 * @throws ValidationError
 */
export function validateArtifactName(name: string, field = 'artifacts/name'): void {
  validateRelativePath(name, field, { folder: 'the artifacts folder', maxLength: 1024 });
}
