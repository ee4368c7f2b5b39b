/**
 * How deeply JSON that comes from outside (HTTP bodies, notebook files, queue payloads, Jenkins
 * answers) may nest arrays and objects. Parsers accept any depth, but much of what handles the
 * value afterwards recurses (structuredClone, JSON.stringify, ajv, the parameter translators)
 * and overflows the stack a few thousand levels down. Every boundary checks the depth right
 * after parsing with one iterative walker, which cannot overflow itself.
 *
 * The limit is `NBSTAGE_MAX_JSON_DEPTH` (default 64, at most {@link MAX_JSON_DEPTH_CEILING}).
 */
import { UsageError, ValidationError } from '../errors';

/** The default limit on nesting. */
export const DEFAULT_MAX_JSON_DEPTH = 64;
/** The highest limit that may be set: what every recursive consumer still handles. */
export const MAX_JSON_DEPTH_CEILING = 1000;
/** The environment variable that sets the limit. */
export const MAX_JSON_DEPTH_ENV = 'NBSTAGE_MAX_JSON_DEPTH';

/**
 * The limit on nesting: `NBSTAGE_MAX_JSON_DEPTH` when set (and not empty), else 64.
 *
 * @throws UsageError when the variable is not an integer from 1 to {@link MAX_JSON_DEPTH_CEILING}
 */
export function maxJsonDepth(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[MAX_JSON_DEPTH_ENV];
  if (raw === undefined || raw.trim() === '') {
    return DEFAULT_MAX_JSON_DEPTH;
  }
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || value < 1 || value > MAX_JSON_DEPTH_CEILING) {
    throw new UsageError(
      `${MAX_JSON_DEPTH_ENV}: must be an integer from 1 to ${MAX_JSON_DEPTH_CEILING}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

interface Frame {
  value: object;
  depth: number;
  key: string | number;
  parent: Frame | null;
}

function pathOf(frame: Frame): (string | number)[] {
  const keys: (string | number)[] = [];
  for (let f: Frame | null = frame; f !== null && f.parent !== null; f = f.parent) {
    keys.push(f.key);
  }
  return keys.reverse();
}

/**
 * The path (keys and indexes from the root) of the first array or object nested deeper than
 * `limit` levels, or null when there is none. The root array or object is level 1; scalars add
 * no level.
 */
export function tooDeepPath(value: unknown, limit: number): (string | number)[] | null {
  if (value === null || typeof value !== 'object') {
    return null;
  }
  const stack: Frame[] = [{ value, depth: 1, key: '', parent: null }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    if (frame.depth > limit) {
      return pathOf(frame);
    }
    const entries: [string | number, unknown][] = Array.isArray(frame.value)
      ? frame.value.map((v: unknown, i) => [i, v])
      : Object.entries(frame.value);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === 'object') {
        stack.push({ value: child, depth: frame.depth + 1, key, parent: frame });
      }
    }
  }
  return null;
}

/** Path elements shown in a field name before it is cut short with `…`. */
const SHOWN_KEYS = 6;

/**
 * A readable field name of a path: `body.notebook.metadata.a.0.0.…` (the first few keys).
 *
 * @param root - the name of the root (`body`, `payload`)
 * @param separator - `.` for field names, `/` for JSON pointers
 */
export function depthField(root: string, keys: (string | number)[], separator = '.'): string {
  const shown = keys.slice(0, SHOWN_KEYS).map(String);
  const parts = [root, ...shown, ...(keys.length > SHOWN_KEYS ? ['…'] : [])];
  return parts.filter((p) => p !== '').join(separator);
}

/**
 * Why a parsed file nests too deeply (`/metadata/a/0/…: nested deeper than 64 levels ...`), or
 * null when it does not.
 */
export function fileDepthProblem(value: unknown, limit = maxJsonDepth()): string | null {
  const keys = tooDeepPath(value, limit);
  return keys === null ? null : `/${depthField('', keys, '/')}: ${tooDeepReason(limit)}`;
}

function tooDeepReason(limit: number): string {
  return `nested deeper than ${limit} levels of arrays and objects (the limit is ${MAX_JSON_DEPTH_ENV})`;
}

/**
 * Checks that `value` nests at most `limit` levels.
 *
 * @param field - what the value is (`body.notebook`); the error's field starts with it
 * @throws ValidationError naming the field and the path where the limit was passed
 */
export function checkJsonDepth(value: unknown, field: string, limit = maxJsonDepth()): void {
  const keys = tooDeepPath(value, limit);
  if (keys !== null) {
    const where = depthField(field, keys);
    throw new ValidationError(where, `${where}: ${tooDeepReason(limit)}`);
  }
}

/**
 * Checks each field of a request object (a run or job body, a queued run's request) on its own:
 * the notebook nests at most `limit` levels, as a notebook file does, and so does every
 * parameter's value. A value that is not an object is checked whole.
 *
 * @throws ValidationError naming the field (`body.parameters.lr.0.…`)
 */
export function checkRequestDepth(value: unknown, root: string, limit = maxJsonDepth()): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    checkJsonDepth(value, root, limit);
    return;
  }
  for (const [key, field] of Object.entries(value)) {
    if (
      key === 'parameters' &&
      field !== null &&
      typeof field === 'object' &&
      !Array.isArray(field)
    ) {
      for (const [name, parameter] of Object.entries(field as Record<string, unknown>)) {
        checkJsonDepth(parameter, `${root}.parameters.${name}`, limit);
      }
    } else {
      checkJsonDepth(field, `${root}.${key}`, limit);
    }
  }
}
