/**
 * Parameters as users give them: `-p NAME=VALUE` (JSON when it parses), `-r NAME=RAW` (always a
 * string), `--secret NAME=VALUE`, and parameter files in JSON or YAML.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError, firstLineOfMessage, readFailureReason } from '../errors';
import type { JSONValue } from '../notebook/model';

/** What a parameter (or secret) name must look like: an identifier in every kernel language. */
export const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(flag: string, name: string): void {
  if (!PARAMETER_NAME.test(name)) {
    throw new UsageError(
      `${flag}: invalid name "${name}" (use letters, digits and _, not starting with a digit)`,
    );
  }
}

/** Splits `NAME=VALUE` at the first `=`. */
function splitAssignment(flag: string, arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq < 0) {
    throw new UsageError(`${flag} "${arg}": expected NAME=VALUE`);
  }
  const name = arg.slice(0, eq);
  checkName(`${flag} "${arg}"`, name);
  return [name, arg.slice(eq + 1)];
}

/**
 * A `-p` value: JSON when the text is valid JSON (`3`, `0.1`, `true`, `"s"`, `[1,2]`, `null`),
 * else the text itself. Numbers JSON cannot hold exactly (beyond 2^53, or overflowing to
 * infinity) stay strings, so `-p id=12345678901234567890` keeps every digit.
 */
function parseValue(text: string): JSONValue {
  let value: JSONValue;
  try {
    value = JSON.parse(text) as JSONValue;
  } catch {
    return text;
  }
  if (typeof value !== 'number') {
    return value;
  }
  const inexactInteger = /^\s*-?\d+\s*$/.test(text) && !Number.isSafeInteger(value);
  return !Number.isFinite(value) || inexactInteger ? text : value;
}

/**
 * Parses `-p NAME=VALUE` and `-r NAME=RAW` arguments. A name given twice keeps the last value.
 *
 * @param values - the `-p` arguments; values parse as JSON when they can, else stay strings
 * @param raw - the `-r` arguments; values are always strings
 * @throws UsageError for an argument without `=`, an invalid name, or a name given to both
 */
export function parseParameterArgs(values: string[], raw: string[]): Record<string, JSONValue> {
  const params = new Map<string, JSONValue>();
  for (const arg of values) {
    const [name, text] = splitAssignment('-p', arg);
    params.set(name, parseValue(text));
  }
  const fromP = new Set(params.keys());
  for (const arg of raw) {
    const [name, text] = splitAssignment('-r', arg);
    if (fromP.has(name)) {
      throw new UsageError(`parameter "${name}" is given with both -p and -r`);
    }
    params.set(name, text);
  }
  // fromEntries defines own properties, so even a name like __proto__ stays a plain key.
  return Object.fromEntries(params);
}

/**
 * Parses `--secret NAME=VALUE` arguments, and `--secret NAME`, which takes the value of the
 * environment variable NAME (so that a value bound by Jenkins' `withCredentials` never appears on
 * a command line). Error messages never include a secret's value.
 *
 * @param values - the `--secret` arguments
 * @param env - where `--secret NAME` looks its value up
 * @throws UsageError for an invalid name, an empty value (which could not be masked), or a
 *   `--secret NAME` whose variable is not set
 */
export function parseSecretArgs(
  values: string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const secrets = new Map<string, string>();
  for (const arg of values) {
    const eq = arg.indexOf('=');
    if (eq < 0) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(arg)) {
        // The whole argument may be the secret itself: do not echo it.
        throw new UsageError(
          '--secret: expected NAME=VALUE, or NAME to read the environment variable (argument not shown)',
        );
      }
      const value = env[arg];
      if (value === undefined || value === '') {
        // It may be a mistyped secret rather than a variable name: do not echo it either.
        throw new UsageError(
          '--secret NAME (without =VALUE) reads the environment variable NAME, which is not set or empty (argument not shown)',
        );
      }
      secrets.set(arg, value);
      continue;
    }
    const name = arg.slice(0, eq);
    checkName('--secret', name);
    const value = arg.slice(eq + 1);
    if (value === '') {
      throw new UsageError(`--secret ${name}: the value is empty, so it could not be masked`);
    }
    secrets.set(name, value);
  }
  return Object.fromEntries(secrets);
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a value read from a parameters file is plain JSON data, naming where it is not. */
function checkJSON(value: unknown, where: string): JSONValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (typeof value === 'number') {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => checkJSON(item, `${where}[${i}]`));
  }
  if (isMapping(value) && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, checkJSON(item, `${where}.${key}`)]),
    );
  }
  throw new Error(`${where} is not a JSON value`);
}

/**
 * Reads parameters from a `.json`, `.yaml` or `.yml` file whose top level is a mapping.
 *
 * @param file - the path of the file
 * @throws UsageError naming the file when it cannot be read or parsed, is not a mapping, or has
 *   an invalid parameter name
 */
export async function readParamsFile(file: string): Promise<Record<string, JSONValue>> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    throw new UsageError(`${file}: parameters file must be .json, .yaml or .yml`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read parameters file: ${readFailureReason(err)}`);
  }
  let value: unknown;
  try {
    value = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(
      `${file}: invalid ${ext === '.json' ? 'JSON' : 'YAML'}: ${firstLineOfMessage(err)}`,
    );
  }
  if (!isMapping(value)) {
    throw new UsageError(
      `${file}: parameters file must hold a mapping of NAME: value at the top level`,
    );
  }
  const params = new Map<string, JSONValue>();
  for (const [name, item] of Object.entries(value)) {
    checkName(file, name);
    try {
      params.set(name, checkJSON(item, name));
    } catch (err) {
      throw new UsageError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return Object.fromEntries(params);
}
