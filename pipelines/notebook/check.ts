/**
 * Loading a user's notebook the way nbformat reads it and nbclient runs it: what cannot run is
 * refused (not nbformat 4, no cell list, a cell without a known type or a source), everything
 * else the schema objects to is repaired with a warning, so the run goes ahead and the executed
 * notebook nbstage writes is valid. Repairs follow nbformat's own `normalize` and
 * `strip_invalid_metadata`: missing or duplicate cell ids are generated, metadata entries the
 * schema rejects are removed, missing required fields get their empty value. The kernelspec's
 * missing `name` or `display_name` is left for the run to fill in from the kernel it starts
 * (see {@link completeKernelspec}).
 */
import type { ErrorObject } from 'ajv';
import { NotebookInvalidError } from '../errors';
import { newCellId, type Notebook } from './model';
import {
  CELL_TYPES,
  OUTPUT_TYPES,
  describe,
  firstConcrete,
  isObject,
  schemaMinor,
  validator,
} from './schema';
import { notebookVersion, validateNotebook } from './validate';

/** A notebook accepted for running, with what had to be repaired, one line each. */
export interface CheckedNotebook {
  notebook: Notebook;
  /** One line per kind of repair, naming `source` and the JSON path (empty when valid). */
  warnings: string[];
}

/** Cell ids as nbformat 4.5 allows them. */
const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/;
/** Enough rounds for every field of one part; a part that needs more is refused. */
const MAX_REPAIRS_PER_PART = 50;

/** The kernelspec fields the schema requires; a run fills them in from its kernel. */
const KERNELSPEC_PLACEHOLDER = { name: 'kernel', display_name: 'kernel' };

/** Collects repairs, one line per kind: the same repair in many cells is one line. */
class Repairs {
  /** Cells each kind of repair was made in, by kind (the problem with `/cells/*`, the action). */
  private readonly kinds = new Map<string, number[]>();
  /** The first concrete line of each kind, shown when it happened once. */
  private readonly firstProblem = new Map<string, string>();
  private readonly order: string[] = [];

  constructor(private readonly source: string) {}

  add(problem: string, action: string): void {
    const cell = /^\/cells\/(\d+)/.exec(problem);
    const kind = `${problem.replace(/^\/cells\/\d+/, '/cells/*').replace(/\/outputs\/\d+/, '/outputs/*')}: ${action}`;
    const at = this.kinds.get(kind);
    if (at === undefined) {
      this.kinds.set(kind, cell === null ? [] : [Number(cell[1])]);
      this.order.push(kind);
      this.firstProblem.set(kind, `${problem}: ${action}`);
    } else if (cell !== null) {
      at.push(Number(cell[1]));
    }
  }

  lines(): string[] {
    return this.order.map((kind) => {
      const cells = [...new Set(this.kinds.get(kind))];
      if (cells.length <= 1) {
        return `${this.source}: ${this.firstProblem.get(kind) ?? kind}`;
      }
      const shown = cells.slice(0, 5).join(', ');
      const more = cells.length > 5 ? ` and ${cells.length - 5} more` : '';
      return `${this.source}: ${kind} (cells ${shown}${more})`;
    });
  }
}

/** The first error of `value` against a schema definition, or undefined when it is valid. */
function firstError(minor: number, definition: string | undefined, value: unknown) {
  const validate = validator(minor, definition);
  return validate(value) ? undefined : firstConcrete(validate.errors);
}

function refuse(source: string, problem: string): never {
  throw new NotebookInvalidError(`${source}: invalid notebook: ${problem}`);
}

/** The property an error is about at the top of the part (`metadata` for `/metadata/x`). */
function topKey(error: ErrorObject): string | undefined {
  return error.instancePath.split('/')[1];
}

/** The second segment of an error's path (`x` for `/metadata/x`). */
function secondKey(error: ErrorObject): string | undefined {
  return error.instancePath.split('/')[2];
}

function missing(error: ErrorObject): string | undefined {
  return error.keyword === 'required'
    ? String((error.params as { missingProperty?: unknown }).missingProperty)
    : undefined;
}

function additional(error: ErrorObject): string | undefined {
  return error.keyword === 'additionalProperties'
    ? String((error.params as { additionalProperty?: unknown }).additionalProperty)
    : undefined;
}

/**
 * Repairs one error in a part's metadata (`/metadata` or `/metadata/KEY`): a metadata that is
 * not an object becomes `{}`, an entry the schema rejects is removed. False when the error is
 * about something else.
 */
function repairMetadata(
  part: Record<string, unknown>,
  error: ErrorObject,
  problem: string,
  repairs: Repairs,
): boolean {
  if (error.instancePath === '' && missing(error) === 'metadata') {
    part.metadata = {};
    repairs.add(problem, 'set to {}');
    return true;
  }
  if (topKey(error) !== 'metadata') {
    return false;
  }
  const key = secondKey(error);
  if (key === undefined || !isObject(part.metadata)) {
    part.metadata = {};
    repairs.add(problem, 'set to {}');
  } else {
    delete part.metadata[key];
    repairs.add(problem, `removed metadata '${key}'`);
  }
  return true;
}

/**
 * Checks the kernelspec by hand: a run fills in a missing name or display_name from the kernel
 * it starts, so they are warnings; a kernelspec that is not an object is removed.
 */
function checkKernelspec(metadata: Record<string, unknown>, repairs: Repairs): void {
  const spec = metadata.kernelspec;
  if (spec === undefined) {
    return;
  }
  if (!isObject(spec)) {
    delete metadata.kernelspec;
    repairs.add('/metadata/kernelspec must be object', 'removed');
    return;
  }
  for (const field of ['name', 'display_name'] as const) {
    if (spec[field] !== undefined && typeof spec[field] !== 'string') {
      delete spec[field];
      repairs.add(`/metadata/kernelspec/${field} must be string`, 'removed');
    }
    if (spec[field] === undefined) {
      repairs.add(
        `/metadata/kernelspec must have required property '${field}'`,
        "filled in from the kernel's kernelspec when it runs",
      );
    }
  }
}

/** The notebook without its cells, its kernelspec's required fields filled for the schema. */
function topPart(nb: Record<string, unknown>): Record<string, unknown> {
  const metadata = nb.metadata;
  const spec = isObject(metadata) ? metadata.kernelspec : undefined;
  return {
    ...nb,
    cells: [],
    ...(isObject(metadata) && isObject(spec)
      ? { metadata: { ...metadata, kernelspec: { ...KERNELSPEC_PLACEHOLDER, ...spec } } }
      : {}),
  };
}

/** Repairs the notebook-level fields; refuses a notebook without a list of cells. */
function repairTop(nb: Record<string, unknown>, minor: number, source: string, repairs: Repairs) {
  if (nb.cells === undefined) {
    refuse(source, "notebook must have required property 'cells'");
  }
  if (!Array.isArray(nb.cells)) {
    refuse(source, '/cells must be array');
  }
  if (isObject(nb.metadata)) {
    checkKernelspec(nb.metadata, repairs);
  }
  for (let round = 0; round < MAX_REPAIRS_PER_PART; round++) {
    const error = firstError(minor, undefined, topPart(nb));
    if (error === undefined) {
      return;
    }
    const problem = describe(error);
    const extra = additional(error);
    if (error.instancePath === '' && extra !== undefined) {
      delete nb[extra];
      repairs.add(problem, 'removed');
    } else if (!repairMetadata(nb, error, problem, repairs)) {
      refuse(source, problem);
    }
  }
  refuse(source, 'notebook has too many problems to repair');
}

/** Repairs one field of a cell; false when the error stops a run (no source, say). */
function repairCellField(
  cell: Record<string, unknown>,
  error: ErrorObject,
  problem: string,
  repairs: Repairs,
): boolean {
  const field = error.instancePath === '' ? (missing(error) ?? additional(error)) : topKey(error);
  if (additional(error) !== undefined && error.instancePath === '') {
    delete cell[additional(error) ?? ''];
    repairs.add(problem, 'removed');
    return true;
  }
  switch (field) {
    case 'metadata':
      return repairMetadata(cell, error, problem, repairs);
    case 'id':
      cell.id = newCellId();
      repairs.add(problem, 'generated a new id');
      return true;
    case 'outputs':
      cell.outputs = [];
      repairs.add(problem, 'set to []');
      return true;
    case 'execution_count':
      cell.execution_count = null;
      repairs.add(problem, 'set to null');
      return true;
    case 'attachments':
      delete cell.attachments;
      repairs.add(problem, 'removed the attachments');
      return true;
    default:
      return false;
  }
}

/** Repairs one output in place, or says it must be dropped. */
function repairOutput(
  output: unknown,
  path: string,
  minor: number,
  repairs: Repairs,
): 'keep' | 'drop' {
  const kind = isObject(output) ? output.output_type : undefined;
  if (!isObject(output) || typeof kind !== 'string' || !OUTPUT_TYPES.some((t) => t === kind)) {
    repairs.add(`${path} is not an nbformat output`, 'removed');
    return 'drop';
  }
  for (let round = 0; round < MAX_REPAIRS_PER_PART; round++) {
    const error = firstError(minor, kind, output);
    if (error === undefined) {
      return 'keep';
    }
    const problem = describe(error, path);
    const extra = additional(error);
    const absent = missing(error);
    if (error.instancePath === '' && extra !== undefined) {
      delete output[extra];
      repairs.add(problem, 'removed');
    } else if (error.instancePath === '' && absent === 'metadata') {
      output.metadata = {};
      repairs.add(problem, 'set to {}');
    } else if (error.instancePath === '' && absent === 'execution_count') {
      output.execution_count = null;
      repairs.add(problem, 'set to null');
    } else {
      repairs.add(problem, 'output removed');
      return 'drop';
    }
  }
  return 'drop';
}

/** Repairs one cell; refuses a cell that cannot run (unknown type, no source). */
function repairCell(
  cell: unknown,
  index: number,
  minor: number,
  source: string,
  repairs: Repairs,
): void {
  const path = `/cells/${index}`;
  if (!isObject(cell)) {
    refuse(source, `${path} must be object`);
  }
  const kind = cell.cell_type;
  if (kind === undefined) {
    refuse(source, `${path} must have required property 'cell_type'`);
  }
  if (typeof kind !== 'string' || !CELL_TYPES.some((t) => t === kind)) {
    refuse(source, `${path}/cell_type must be one of ${CELL_TYPES.join(', ')}`);
  }
  for (let round = 0; round < MAX_REPAIRS_PER_PART; round++) {
    const outputs = cell.outputs;
    const shallow = kind === 'code' && Array.isArray(outputs) ? { ...cell, outputs: [] } : cell;
    const error = firstError(minor, `${kind}_cell`, shallow);
    if (error === undefined) {
      break;
    }
    const problem = describe(error, path);
    if (!repairCellField(cell, error, problem, repairs)) {
      refuse(source, problem);
    }
  }
  if (kind === 'code' && Array.isArray(cell.outputs)) {
    cell.outputs = cell.outputs.filter(
      (output, j) => repairOutput(output, `${path}/outputs/${j}`, minor, repairs) === 'keep',
    );
  }
}

/** nbformat 4.5 cell ids must be unique: later duplicates get new ids (as nbformat does). */
function repairDuplicateIds(cells: unknown[], repairs: Repairs): void {
  const seen = new Set<string>();
  cells.forEach((cell, index) => {
    const id = isObject(cell) ? cell.id : undefined;
    if (!isObject(cell) || typeof id !== 'string' || !CELL_ID.test(id)) {
      return;
    }
    let unique = id;
    if (seen.has(id)) {
      repairs.add(`/cells/${index}/id '${id}' is not unique`, 'generated a new id');
      do {
        unique = newCellId();
      } while (seen.has(unique));
      cell.id = unique;
    }
    seen.add(unique);
  });
}

/**
 * Accepts a parsed JSON value as a notebook to run: refuses what cannot run, repairs the rest.
 *
 * A valid notebook is returned as it is, with no warnings. Otherwise a repaired deep copy is
 * returned with one warning line per kind of repair; it validates against the schema of its
 * minor version, except for a kernelspec's missing `name` or `display_name`, which
 * {@link completeKernelspec} fills in once the kernel is known.
 *
 * @param value - the parsed JSON
 * @param source - the file name (or other origin) used in messages
 * @throws NotebookInvalidError naming `source` and the JSON path when the notebook cannot run
 */
export function checkNotebook(value: unknown, source: string): CheckedNotebook {
  const minor = schemaMinor(notebookVersion(value, source));
  if (validator(minor)(value) && uniqueIds(value as Notebook)) {
    return { notebook: value as Notebook, warnings: [] };
  }
  const nb = structuredClone(value) as Record<string, unknown>;
  const repairs = new Repairs(source);
  repairTop(nb, minor, source, repairs);
  const cells = nb.cells as unknown[];
  cells.forEach((cell, index) => repairCell(cell, index, minor, source, repairs));
  if (minor >= 5) {
    repairDuplicateIds(cells, repairs);
  }
  // Whatever could not be repaired is reported as the strict validator sees it.
  validateNotebook({ ...topPart(nb), cells }, source);
  return { notebook: nb as unknown as Notebook, warnings: repairs.lines() };
}

function uniqueIds(nb: Notebook): boolean {
  const ids = nb.cells.flatMap((c) => (c.id === undefined ? [] : [c.id]));
  return new Set(ids).size === ids.length;
}

/**
 * Fills in a kernelspec's missing `name` and `display_name` from the kernel that runs the
 * notebook, so the executed notebook is valid (nbformat requires both). A notebook without a
 * kernelspec, or with a complete one, is returned as it is.
 *
 * @param nb - the notebook
 * @param kernel - the kernelspec the run uses: its name and display name
 */
export function completeKernelspec(
  nb: Notebook,
  kernel: { name: string; displayName: string },
): Notebook {
  const spec = nb.metadata.kernelspec;
  if (spec === undefined || (spec.name !== undefined && spec.display_name !== undefined)) {
    return nb;
  }
  return {
    ...nb,
    metadata: {
      ...nb.metadata,
      kernelspec: {
        ...spec,
        name: spec.name ?? kernel.name,
        display_name: spec.display_name ?? kernel.displayName,
      },
    },
  };
}
