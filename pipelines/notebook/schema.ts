/**
 * The official nbformat 4 JSON schemas (draft-04) behind one ajv instance, compiled once on first
 * use, with the helpers both the strict validator and the repairing loader use: a validator per
 * schema or definition, and one readable line per ajv error.
 */
import Ajv from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv';
import schema40 from './schema/nbformat.v4.0.schema.json';
import schema41 from './schema/nbformat.v4.1.schema.json';
import schema42 from './schema/nbformat.v4.2.schema.json';
import schema43 from './schema/nbformat.v4.3.schema.json';
import schema44 from './schema/nbformat.v4.4.schema.json';
import schema45 from './schema/nbformat.v4.5.schema.json';

const SCHEMAS: readonly object[] = [schema40, schema41, schema42, schema43, schema44, schema45];

/** The cell types of nbformat 4. */
export const CELL_TYPES = ['code', 'markdown', 'raw'] as const;
/** The output types of nbformat 4. */
export const OUTPUT_TYPES = ['execute_result', 'display_data', 'stream', 'error'] as const;

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

/**
 * The compiled validator for a schema minor version, or for one of its definitions
 * (`code_cell`, `stream`, ...); ajv caches compilations.
 */
export function validator(minor: number, definition?: string): ValidateFunction {
  const key =
    definition === undefined ? schemaKey(minor) : `${schemaKey(minor)}#/definitions/${definition}`;
  const validate = schemas().getSchema(key);
  if (validate === undefined) {
    throw new Error(`nbformat schema ${key} is missing`);
  }
  return validate;
}

/**
 * Compiles every nbformat 4 schema now (about 0.3 s): a service does it before it listens, so
 * its first run does not stall every other request while ajv compiles.
 */
export function compileSchemas(): void {
  SCHEMAS.forEach((_, minor) => validator(minor));
}

/** The schema minor version a notebook validates against: its own, or 5 for newer minors. */
export function schemaMinor(minor: number): number {
  return Math.min(minor, SCHEMAS.length - 1);
}

/** Whether a value is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One readable line for an ajv error, prefixed by the JSON path of the offending value. */
export function describe(error: ErrorObject, prefix = ''): string {
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
export function firstConcrete(errors: ErrorObject[] | null | undefined): ErrorObject | undefined {
  const list = errors ?? [];
  return list.find((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf') ?? list[0];
}
