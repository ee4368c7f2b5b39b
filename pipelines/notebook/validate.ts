/**
 * Parses and validates nbformat 4 notebooks against the official JSON schemas (draft-04, with
 * ajv). Each schema is compiled once, on first use. Errors are one line: the file, then the JSON
 * path of the most relevant problem, so a user can find it in the file.
 */
import Ajv from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { NotebookInvalidError } from '../errors';
import { fileDepthProblem } from './json-depth';
import type { Notebook } from './model';
import schema40 from './schema/nbformat.v4.0.schema.json';
import schema41 from './schema/nbformat.v4.1.schema.json';
import schema42 from './schema/nbformat.v4.2.schema.json';
import schema43 from './schema/nbformat.v4.3.schema.json';
import schema44 from './schema/nbformat.v4.4.schema.json';
import schema45 from './schema/nbformat.v4.5.schema.json';

const SCHEMAS: readonly object[] = [schema40, schema41, schema42, schema43, schema44, schema45];
const CELL_TYPES = ['code', 'markdown', 'raw'] as const;
const OUTPUT_TYPES = ['execute_result', 'display_data', 'stream', 'error'] as const;

let ajvInstance: Ajv | undefined;

/** The shared ajv instance, created on first use, holding every nbformat 4 schema by key. */
function schemas(): Ajv {
  if (ajvInstance === undefined) {
    // strict: false because the official schemas carry non-standard keywords ("item", ...).
    const ajv = new Ajv({ strict: false, allErrors: false });
    SCHEMAS.forEach((schema, minor) => ajv.addSchema(schema, schemaKey(minor)));
    ajvInstance = ajv;
  }
  return ajvInstance;
}

function schemaKey(minor: number): string {
  return `nbformat.v4.${minor}`;
}

/** The compiled validator for a schema (or one of its definitions); ajv caches compilations. */
function validator(minor: number, definition?: string): ValidateFunction {
  const key =
    definition === undefined ? schemaKey(minor) : `${schemaKey(minor)}#/definitions/${definition}`;
  const validate = schemas().getSchema(key);
  if (validate === undefined) {
    throw new Error(`nbformat schema ${key} is missing`);
  }
  return validate;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schema minor version a notebook validates against: its own, or 5 for newer minors. */
function schemaMinor(minor: number): number {
  return Math.min(minor, SCHEMAS.length - 1);
}

/** One readable line for an ajv error, prefixed by the JSON path of the offending value. */
function describe(error: ErrorObject, prefix = ''): string {
  const path = prefix + error.instancePath;
  const where = path === '' ? 'notebook' : path;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      return `${where} must be one of ${allowed.map((v) => String(v)).join(', ')}`;
    }
    case 'required':
      return `${where} must have required property '${String(params.missingProperty)}'`;
    case 'additionalProperties':
      return `${where} must not have additional property '${String(params.additionalProperty)}'`;
    default:
      return `${where} ${error.message ?? 'is invalid'}`;
  }
}

/** The first error that is not a summary of a union ("must match exactly one schema"). */
function firstConcrete(errors: ErrorObject[] | null | undefined): ErrorObject | undefined {
  const list = errors ?? [];
  return list.find((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf') ?? list[0];
}

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
  const schemaVersion = schemaMinor(minor);
  if (!validator(schemaVersion)(value)) {
    throw new NotebookInvalidError(
      `${source}: invalid notebook: ${diagnose(value, schemaVersion)}`,
    );
  }
  const duplicate = duplicateCellId(value.cells as unknown[]);
  if (duplicate !== null) {
    throw new NotebookInvalidError(`${source}: invalid notebook: ${duplicate}`);
  }
  return value as unknown as Notebook;
}

/**
 * Where two cells share an id (nbformat 4.5 requires them unique: a baseline, a diff and the
 * version store match cells by id), or null.
 */
function duplicateCellId(cells: unknown[]): string | null {
  const seen = new Map<string, number>();
  for (const [index, cell] of cells.entries()) {
    const id = isObject(cell) ? cell.id : undefined;
    if (typeof id !== 'string') {
      continue;
    }
    const first = seen.get(id);
    if (first !== undefined) {
      return `/cells/${index}/id ${JSON.stringify(id)} is also the id of /cells/${first} (cell ids must be unique)`;
    }
    seen.set(id, index);
  }
  return null;
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
    const reason = err instanceof Error ? err.message : String(err);
    throw new NotebookInvalidError(`${source}: not valid JSON: ${firstLine(reason)}`);
  }
  const tooDeep = fileDepthProblem(value);
  if (tooDeep !== null) {
    throw new NotebookInvalidError(`${source}: ${tooDeep}`);
  }
  return validateNotebook(value, source);
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
