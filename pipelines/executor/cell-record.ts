/**
 * What a run writes into the code cells of the executed notebook: a cell made ready for its
 * request, nbclient's `metadata.execution` times, the run's status per cell, the outputs in
 * nbformat's on-disk form, and a cell left as one the run did not execute.
 */
import {
  splitLines,
  type CodeCell,
  type JSONValue,
  type Notebook,
  type Output,
} from '../notebook/model';
import type { CellStatus } from './events';

/** Clears what an earlier run left in a cell about to be sent. */
export function resetForRun(cell: CodeCell): void {
  cell.outputs = [];
  cell.execution_count = null;
  delete cell.metadata.execution;
  delete cell.metadata.nbstage?.output;
}

/** What a run records in a cell's `metadata.nbstage`: an earlier run's is dropped before this one. */
const RUN_RECORD_KEYS = ['status', 'duration_ms', 'stage', 'output', 'peak_rss_bytes', 'check'];

/** Drops an earlier run's record from a cell's `metadata.nbstage` (status, peak, check...). */
export function forgetRun(cell: CodeCell): void {
  const meta = cell.metadata.nbstage;
  if (meta !== undefined) {
    cell.metadata.nbstage = Object.fromEntries(
      Object.entries(meta).filter(([key]) => !RUN_RECORD_KEYS.includes(key)),
    );
  }
}

/** Leaves a code cell as one this run did not execute: no count, outputs or run record. */
export function clearRun(cell: CodeCell): void {
  cell.execution_count = null;
  cell.outputs = [];
  delete cell.metadata.execution;
  forgetRun(cell);
}

/**
 * Before a run: each of `cells` loses what an earlier run recorded in it; a code cell that will
 * not run (`runs` says) is left as nbclient leaves one, with no count, outputs or run record.
 */
export function forgetEarlierRuns(
  nb: Notebook,
  cells: readonly number[],
  runs: (index: number) => boolean,
): void {
  for (const index of cells) {
    const cell = nb.cells[index];
    if (cell?.cell_type === 'code') {
      if (runs(index)) {
        forgetRun(cell);
      } else {
        clearRun(cell);
      }
    }
  }
}

/** Records one of nbclient's `metadata.execution` times (`iopub.status.busy`, ...). */
export function setExecutionTime(cell: CodeCell, key: string, at: string): void {
  const execution = (cell.metadata.execution ??= {});
  execution[key] = at;
}

/** Sets the execution count of the cell and of its execute results. */
export function setExecutionCount(cell: CodeCell, count: number): void {
  cell.execution_count = count;
  for (const o of cell.outputs) {
    if (o.output_type === 'execute_result') {
      o.execution_count = count;
    }
  }
}

/** Text fields of outputs in nbformat's on-disk list-of-lines form. */
export function normalizeOutput(output: Output): Output {
  if (output.output_type === 'stream') {
    const text = Array.isArray(output.text) ? output.text.join('') : output.text;
    return { ...output, text: splitLines(text) };
  }
  if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
    const data: { [mime: string]: JSONValue } = {};
    for (const [mime, value] of Object.entries(output.data)) {
      const textual = mime.startsWith('text/') || mime === 'image/svg+xml';
      data[mime] = textual && typeof value === 'string' ? splitLines(value) : value;
    }
    return { ...output, data };
  }
  return output;
}

/** Writes a finished cell's run record: on-disk outputs, and its status, duration and stage. */
export function recordCell(
  cell: CodeCell,
  info: { status: CellStatus; durationMs: number; stage: string | null },
): void {
  cell.outputs = cell.outputs.map(normalizeOutput);
  cell.metadata.nbstage = {
    ...(cell.metadata.nbstage ?? {}),
    status: info.status,
    duration_ms: info.durationMs,
    stage: info.stage,
  };
}
