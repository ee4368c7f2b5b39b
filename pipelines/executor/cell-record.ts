/**
 * What a run writes into the code cells of the executed notebook: a cell made ready for its
 * request, nbclient's `metadata.execution` times, the run's status per cell, the outputs in
 * nbformat's on-disk form, and a cell left as one the run did not execute.
 */
import { splitLines, type CodeCell, type JSONValue, type Output } from '../notebook/model';
import type { CellStatus } from './events';

/** Clears what an earlier run left in a cell about to be sent. */
export function resetForRun(cell: CodeCell): void {
  cell.outputs = [];
  cell.execution_count = null;
  delete cell.metadata.execution;
  delete cell.metadata.nbstage?.output;
}

/** Leaves a code cell as one this run did not execute: no count, outputs or run timings. */
export function clearRun(cell: CodeCell): void {
  cell.execution_count = null;
  cell.outputs = [];
  delete cell.metadata.execution;
  if (cell.metadata.nbstage !== undefined) {
    const {
      status: _status,
      duration_ms: _duration,
      stage: _stage,
      ...rest
    } = cell.metadata.nbstage;
    cell.metadata.nbstage = rest;
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
