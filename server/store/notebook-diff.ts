/**
 * Compares two stored versions of a notebook: cells matched by id (by position for cells
 * without one; the injected parameters cells with each other), their sources as line diffs, their outputs as text before and after (images
 * only as changed), and the run's status, metrics, parameters, checks and environment (its
 * packages and recorded fields, `pipelines/environment/diff.ts`). Execution counts and timing
 * metadata, which change on every run, are not differences.
 */
import type { EnvironmentDiff } from '../../pipelines/environment/diff';
import { environmentDiff } from '../../pipelines/environment/diff';
import type { Cell, JSONObject, JSONValue, Notebook, Output } from '../../pipelines/notebook/model';
import { hasTag, joinSource } from '../../pipelines/notebook/model';
import { jsonEqual } from '../../pipelines/notebook/json-equal';
import { INJECTED_TAG } from '../../pipelines/parameters/inject';
import { stripAnsi } from '../../pipelines/reports/ansi';
import {
  cellCheck,
  isJSONObject,
  METRIC_MIME,
  metricOf,
  mimeText,
  multilineText,
  runChecks,
  runInfo,
  type RecordedCellCheck,
  type RecordedChecks,
} from '../../pipelines/reports/run-metadata';
import type { DiffLine } from './line-diff';
import { diffText } from './line-diff';

export type { DiffLine } from './line-diff';

/** A metric or parameter whose value differs between two versions (null: absent there). */
export interface ValueChange {
  name: string;
  a: JSONValue | null;
  b: JSONValue | null;
}

/** One difference in a cell's outputs. */
export interface OutputChange {
  /** Position in the cell's outputs: B's, or A's for a removed output. */
  index: number;
  /** `stream:stdout`, `stream:stderr`, `execute_result`, `display_data` or `error`. */
  outputType: string;
  /** `text`: `a` and `b` hold the text; `image`: only that it changed (see `mime`). */
  kind: 'text' | 'image';
  change: 'added' | 'removed' | 'changed';
  /** The text before (null for an image, or when the output is new). */
  a: string | null;
  /** The text after (null for an image, or when the output is gone). */
  b: string | null;
  /** The image's mimetype (`image/png`), for kind `image`. */
  mime?: string;
}

/** A cell that differs between the versions. */
export interface CellChange {
  change: 'added' | 'removed' | 'modified';
  /** The cell id (B's when it has one), or null. */
  id: string | null;
  cellType: Cell['cell_type'];
  /** Position in A (null for an added cell). */
  indexA: number | null;
  /** Position in B (null for a removed cell). */
  indexB: number | null;
  /** The source's line diff; null when the source did not change. */
  source: DiffLine[] | null;
  /** The outputs that differ (empty when none). */
  outputs: OutputChange[];
  /** Each side's check of the cell against its own baseline, when either run was checked. */
  checks?: { a: RecordedCellCheck | null; b: RecordedCellCheck | null };
}

/** One side of a comparison. */
export interface DiffSide {
  build: string;
  commit: string;
  notebook: Notebook;
  run: JSONObject;
}

/** What changed from build A to build B of a job. */
export interface NotebookDiff {
  job: string;
  a: { build: string; commit: string };
  b: { build: string; commit: string };
  /** The run status of each side (null when not recorded). */
  status: { a: string | null; b: string | null; changed: boolean };
  /** The cells that differ, in B's order (removed cells where they were). */
  cells: CellChange[];
  /** Metrics whose values differ, by name. */
  metrics: ValueChange[];
  /** Parameters whose values differ, by name. */
  parameters: ValueChange[];
  /** Each side's checks (`metadata.nbstage.checks`: verdict, baseline, gates); null when unchecked. */
  checks: { a: RecordedChecks | null; b: RecordedChecks | null };
  /** What differs between the environments the runs recorded (packages, interpreter, machine, git...). */
  environment: EnvironmentDiff;
}

/** The run status of a version: `run.json`'s, else the notebook's metadata. */
export function statusOf(run: JSONObject, notebook: Notebook): string | null {
  return typeof run.status === 'string' ? run.status : runInfo(notebook).status;
}

/** The metrics of a version: `run.json`'s, else the notebook's metadata. */
export function metricsOf(run: JSONObject, notebook: Notebook): JSONObject {
  return isJSONObject(run.metrics) ? run.metrics : runInfo(notebook).metrics;
}

/**
 * The environment a version recorded: `run.json`'s when it is an object (the service copies it
 * there), else the notebook's `metadata.nbstage.environment`.
 */
export function environmentOf(run: JSONObject, notebook: Notebook): JSONValue | undefined {
  return isJSONObject(run.environment) ? run.environment : notebook.metadata.nbstage?.environment;
}

function parametersOf(run: JSONObject, notebook: Notebook): JSONObject {
  return isJSONObject(run.parameters) ? run.parameters : runInfo(notebook).parameters;
}

/** The changed entries of two name -> value maps, sorted by name. */
export function diffValues(a: JSONObject, b: JSONObject): ValueChange[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names
    .filter((name) => !jsonEqual(a[name], b[name]))
    .map((name) => ({ name, a: a[name] ?? null, b: b[name] ?? null }));
}

function outputType(output: Output): string {
  return output.output_type === 'stream' ? `stream:${output.name}` : output.output_type;
}

/** The text of an output as a person reads it (no ANSI); null when it has none. */
export function outputText(output: Output): string | null {
  switch (output.output_type) {
    case 'stream':
      return multilineText(output.text);
    case 'error':
      return stripAnsi([`${output.ename}: ${output.evalue}`, ...output.traceback].join('\n'));
    default: {
      const metric = metricOf(output.data);
      if (metric !== null) {
        return `${metric.name} = ${JSON.stringify(metric.value)}`;
      }
      for (const mime of ['text/plain', 'text/markdown', 'text/latex', 'text/html']) {
        const text = mimeText(output.data[mime]);
        if (text !== null) {
          return text;
        }
      }
      const json = output.data['application/json'];
      return json === undefined ? null : JSON.stringify(json, null, 1);
    }
  }
}

/** The images of an output: mimetype -> data. */
function outputImages(output: Output): Map<string, string> {
  const images = new Map<string, string>();
  if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
    for (const [mime, value] of Object.entries(output.data)) {
      if (mime.startsWith('image/') && mime !== METRIC_MIME) {
        images.set(mime, mimeText(value) ?? JSON.stringify(value));
      }
    }
  }
  return images;
}

function compareOutputs(
  a: Output | undefined,
  b: Output | undefined,
  index: number,
): OutputChange[] {
  const out: OutputChange[] = [];
  const type = outputType((b ?? a) as Output);
  const change: OutputChange['change'] =
    a === undefined ? 'added' : b === undefined ? 'removed' : 'changed';
  const textA = a === undefined ? null : outputText(a);
  const textB = b === undefined ? null : outputText(b);
  const typeChanged = a !== undefined && b !== undefined && outputType(a) !== outputType(b);
  if (textA !== textB || typeChanged) {
    out.push({ index, outputType: type, kind: 'text', change, a: textA, b: textB });
  }
  const imagesA = a === undefined ? new Map<string, string>() : outputImages(a);
  const imagesB = b === undefined ? new Map<string, string>() : outputImages(b);
  for (const mime of [...new Set([...imagesA.keys(), ...imagesB.keys()])].sort()) {
    const before = imagesA.get(mime);
    const after = imagesB.get(mime);
    if (before !== after) {
      out.push({
        index,
        outputType: type,
        kind: 'image',
        change: before === undefined ? 'added' : after === undefined ? 'removed' : 'changed',
        a: null,
        b: null,
        mime,
      });
    }
  }
  return out;
}

function cellOutputs(cell: Cell | undefined): Output[] {
  return cell?.cell_type === 'code' ? cell.outputs : [];
}

/** The differences of one pair of cells (either may be absent); null when there are none. */
function compareCells(
  a: Cell | undefined,
  b: Cell | undefined,
  indexA: number | null,
  indexB: number | null,
): CellChange | null {
  const sourceA = a === undefined ? '' : joinSource(a.source);
  const sourceB = b === undefined ? '' : joinSource(b.source);
  const sourceChanged = a === undefined || b === undefined || sourceA !== sourceB;
  const outsA = cellOutputs(a);
  const outsB = cellOutputs(b);
  const outputs: OutputChange[] = [];
  for (let i = 0; i < Math.max(outsA.length, outsB.length); i++) {
    outputs.push(...compareOutputs(outsA[i], outsB[i], i));
  }
  const typeChanged = a !== undefined && b !== undefined && a.cell_type !== b.cell_type;
  if (!sourceChanged && outputs.length === 0 && !typeChanged) {
    return null;
  }
  const cell = (b ?? a) as Cell;
  const checkA = a === undefined ? null : cellCheck(a);
  const checkB = b === undefined ? null : cellCheck(b);
  return {
    change: a === undefined ? 'added' : b === undefined ? 'removed' : 'modified',
    id: b?.id ?? a?.id ?? null,
    cellType: cell.cell_type,
    indexA,
    indexB,
    source: sourceChanged ? diffText(sourceA, sourceB) : null,
    outputs,
    ...(checkA === null && checkB === null ? {} : { checks: { a: checkA, b: checkB } }),
  };
}

/**
 * Pairs the cells of A and B: the cells parameters were injected into with each other, then by
 * id, then, for cells left over of which at least one has no id, by position. Returns for each
 * cell of A its partner in B (or -1), and the reverse.
 */
export function matchCells(a: Cell[], b: Cell[]): { aToB: number[]; bToA: number[] } {
  const aToB = a.map(() => -1);
  const bToA = b.map(() => -1);
  const idsB = new Map<string, number>();
  b.forEach((cell, j) => {
    if (typeof cell.id === 'string' && !idsB.has(cell.id)) {
      idsB.set(cell.id, j);
    }
  });
  // The cell parameters are injected into gets a new id in every run: in two builds it is one
  // cell, whose source changes with the parameters.
  const injectedA = a.findIndex((cell) => hasTag(cell, INJECTED_TAG));
  const injectedB = b.findIndex((cell) => hasTag(cell, INJECTED_TAG));
  if (injectedA !== -1 && injectedB !== -1) {
    aToB[injectedA] = injectedB;
    bToA[injectedB] = injectedA;
  }
  a.forEach((cell, i) => {
    if (aToB[i] !== -1) {
      return;
    }
    const j = typeof cell.id === 'string' ? idsB.get(cell.id) : undefined;
    if (j !== undefined && bToA[j] === -1) {
      aToB[i] = j;
      bToA[j] = i;
    }
  });
  a.forEach((cell, i) => {
    if (aToB[i] !== -1 || i >= b.length || bToA[i] !== -1) {
      return;
    }
    const bothHaveIds = typeof cell.id === 'string' && typeof b[i].id === 'string';
    if (!bothHaveIds) {
      aToB[i] = i;
      bToA[i] = i;
    }
  });
  return { aToB, bToA };
}

/** Compares two versions of a job's notebook (see the module comment). */
export function diffVersions(job: string, a: DiffSide, b: DiffSide): NotebookDiff {
  const cellsA = a.notebook.cells;
  const cellsB = b.notebook.cells;
  const { aToB, bToA } = matchCells(cellsA, cellsB);
  const cells: CellChange[] = [];
  const push = (change: CellChange | null): void => {
    if (change !== null) {
      cells.push(change);
    }
  };
  let nextA = 0;
  const flushRemovedBefore = (limit: number): void => {
    for (; nextA < limit; nextA++) {
      if (aToB[nextA] === -1) {
        push(compareCells(cellsA[nextA], undefined, nextA, null));
      }
    }
  };
  cellsB.forEach((cellB, j) => {
    const i = bToA[j];
    if (i !== -1) {
      flushRemovedBefore(i);
      push(compareCells(cellsA[i], cellB, i, j));
    } else {
      push(compareCells(undefined, cellB, null, j));
    }
  });
  flushRemovedBefore(cellsA.length);

  const statusA = statusOf(a.run, a.notebook);
  const statusB = statusOf(b.run, b.notebook);
  return {
    job,
    a: { build: a.build, commit: a.commit },
    b: { build: b.build, commit: b.commit },
    status: { a: statusA, b: statusB, changed: statusA !== statusB },
    cells,
    metrics: diffValues(metricsOf(a.run, a.notebook), metricsOf(b.run, b.notebook)),
    parameters: diffValues(parametersOf(a.run, a.notebook), parametersOf(b.run, b.notebook)),
    checks: { a: runChecks(a.notebook), b: runChecks(b.notebook) },
    environment: environmentDiff(
      environmentOf(a.run, a.notebook),
      environmentOf(b.run, b.notebook),
    ),
  };
}
