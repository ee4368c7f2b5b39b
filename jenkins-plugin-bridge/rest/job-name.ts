/**
 * Jenkins full names (`team/ml/train`: folders separated by `/`, spaces allowed): the checks
 * Jenkins applies to item names, and the URL path of an item (`/job/team/job/ml/job/train`).
 */

/** Characters Jenkins refuses in an item name (`Jenkins.checkGoodName`). */
const FORBIDDEN = /[?*\\%!@#$^&|<>[\]:;]/;

/** The folders and name of a full name: `team/ml/train` -> ['team', 'ml', 'train']. */
export function jobNameParts(name: string): string[] {
  return name === '' ? [] : name.split('/');
}

/**
 * Why Jenkins would refuse this full name, or null when it is fine: empty parts, `.` or `..`,
 * characters Jenkins forbids, control characters, or spaces at either end of a part.
 */
export function jobNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 1000) {
    return 'must be 1 to 1000 characters';
  }
  const parts = jobNameParts(name);
  if (parts.length > 20) {
    return 'has more than 20 folder levels';
  }
  for (const part of parts) {
    if (part === '') {
      return 'has an empty part (a leading, trailing or double "/")';
    }
    if (part === '.' || part === '..') {
      return `has a part "${part}"`;
    }
    if (part.trim() !== part) {
      return `part "${part}" starts or ends with a space`;
    }
    // Control characters are never valid in a Jenkins item name.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(part)) {
      return 'contains a control character';
    }
    const bad = FORBIDDEN.exec(part);
    if (bad !== null) {
      return `contains "${bad[0]}", which Jenkins does not allow in item names`;
    }
  }
  return null;
}

/**
 * The URL path of an item: `team/ml/train` -> `/job/team/job/ml/job/train` (parts encoded); the
 * root (`''`) is `''`.
 */
export function itemPath(name: string): string {
  return jobNameParts(name)
    .map((part) => `/job/${encodeURIComponent(part)}`)
    .join('');
}
