/**
 * Strict validation of nbformat 4 notebooks against the official JSON schemas, for notebooks
 * nbstage wrote itself (read back from the store, run records). Errors are one line: the file,
 * then the JSON path of the most relevant problem, so a user can find it in the file. Notebooks
 * from users go through `check.ts`, which repairs what does not stop a run.
 */
import type { ValidateFunction } from 'ajv';
import { NotebookInvalidError, firstLineOfMessage } from '../errors';
import { fileDepthProblem } from './json-depth';
import type { Notebook } from './model';
import {
  CELL_TYPES,
  OUTPUT_TYPES,
  describe,
  firstConcrete,
  isObject,
  schemaMinor,
  validator,
} from './schema';

/** Validates `value` with one validator, reporting the first problem under `prefix`. */
function checkPart(validate: ValidateFunction, value: unknown, prefix: string): string | undefined {
  if (validate(value)) {
    return undefined;
  }
  const error = firstConcrete(validate.errors);
  return error === undefined ? `${prefix} is invalid` : describe(error, prefix);
}

/** Checks a discriminated union member (a cell or an output) and returns its variant or an error. */
function discriminate(
  value: unknown,
  path: string,
  field: string,
  allowed: readonly string[],
): { variant: string } | { problem: string } {
  if (!isObject(value)) {
    return { problem: `${path} must be object` };
  }
  const kind = value[field];
  if (kind === undefined) {
    return { problem: `${path} must have required property '${field}'` };
  }
  if (typeof kind !== 'string' || !allowed.includes(kind)) {
    return { problem: `${path}/${field} must be one of ${allowed.join(', ')}` };
  }
  return { variant: kind };
}

/**
 * Finds the most relevant problem in an invalid notebook. The schema's unions (cells, outputs)
 * make ajv report every branch; instead each cell and output is checked against the branch its
 * own `cell_type` / `output_type` selects, so the message names the real problem.
 */
function diagnose(nb: Record<string, unknown>, minor: number): string {
  const cells = nb.cells;
  const top = checkPart(validator(minor), { ...nb, cells: Array.isArray(cells) ? [] : cells }, '');
  if (top !== undefined || !Array.isArray(cells)) {
    return top ?? 'notebook is invalid';
  }
  for (let i = 0; i < cells.length; i++) {
    const cell: unknown = cells[i];
    const path = `/cells/${i}`;
    const kind = discriminate(cell, path, 'cell_type', CELL_TYPES);
    if ('problem' in kind) {
      return kind.problem;
    }
    const fields = cell as Record<string, unknown>;
    const outputs = fields.outputs;
    const shallow =
      kind.variant === 'code' && Array.isArray(outputs) ? { ...fields, outputs: [] } : cell;
    const cellProblem = checkPart(validator(minor, `${kind.variant}_cell`), shallow, path);
    if (cellProblem !== undefined) {
      return cellProblem;
    }
    if (kind.variant === 'code' && Array.isArray(outputs)) {
      for (let j = 0; j < outputs.length; j++) {
        const outPath = `${path}/outputs/${j}`;
        const outKind = discriminate(outputs[j], outPath, 'output_type', OUTPUT_TYPES);
        if ('problem' in outKind) {
          return outKind.problem;
        }
        const outProblem = checkPart(validator(minor, outKind.variant), outputs[j], outPath);
        if (outProblem !== undefined) {
          return outProblem;
        }
      }
    }
  }
  // Should not happen: the parts are valid but the whole is not. Report what ajv says.
  const validate = validator(minor);
  validate(nb);
  const error = firstConcrete(validate.errors);
  return error === undefined ? 'notebook is invalid' : describe(error);
}

/**
 * Validates a parsed JSON value as an nbformat 4 notebook.
 *
 * The value is checked against the official schema of its `nbformat_minor` (0 to 5; newer minors
 * against 4.5). The value itself is returned, typed, when it is valid.
 *
 * @param value - the parsed JSON
 * @param source - the file name (or other origin) used in error messages
 * @throws NotebookInvalidError with a one-line message naming `source` and the JSON path
 */
export function validateNotebook(value: unknown, source: string): Notebook {
  const minor = notebookVersion(value, source);
  const schemaVersion = schemaMinor(minor);
  if (!validator(schemaVersion)(value)) {
    throw new NotebookInvalidError(
      `${source}: invalid notebook: ${diagnose(value as Record<string, unknown>, schemaVersion)}`,
    );
  }
  return value as unknown as Notebook;
}

/**
 * Checks that a parsed JSON value is an nbformat 4 notebook object and returns its minor version.
 *
 * @throws NotebookInvalidError when it is not an object, not nbformat 4, or has no valid minor
 */
export function notebookVersion(value: unknown, source: string): number {
  if (!isObject(value)) {
    throw new NotebookInvalidError(`${source}: invalid notebook: expected a JSON object`);
  }
  const major = value.nbformat;
  if (major !== 4) {
    const shown = major === undefined ? 'is missing' : `${JSON.stringify(major)} is not supported`;
    throw new NotebookInvalidError(`${source}: nbformat ${shown} (need 4)`);
  }
  const minor = value.nbformat_minor;
  if (typeof minor !== 'number' || !Number.isInteger(minor) || minor < 0) {
    throw new NotebookInvalidError(
      `${source}: invalid notebook: /nbformat_minor must be a non-negative integer`,
    );
  }
  return minor;
}

/**
 * Parses notebook JSON text and validates it (see {@link validateNotebook}).
 *
 * @param text - the file contents
 * @param source - the file name used in error messages
 * @throws NotebookInvalidError when the text is not JSON or not a valid nbformat 4 notebook
 */
export function parseNotebook(text: string, source: string): Notebook {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new NotebookInvalidError(`${source}: not valid JSON: ${firstLineOfMessage(err)}`);
  }
  const tooDeep = fileDepthProblem(value);
  if (tooDeep !== null) {
    throw new NotebookInvalidError(`${source}: ${tooDeep}`);
  }
  return validateNotebook(value, source);
}
