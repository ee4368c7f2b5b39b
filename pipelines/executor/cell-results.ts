/**
 * The cells of a run that have ended: each ends once, with a status and a duration, its output
 * limits recorded and its `cell-end` emitted; at the run's end the rest are aborted and every
 * ended cell gets its run record in the notebook.
 */
import type { CodeCell, JSONObject, Notebook } from '../notebook/model';
import { recordCell } from './cell-record';
import type { CellCheckNote, CellStatus, RunEvent } from './events';
import type { OutputCollector } from './outputs';

/** A failed cell's error, as its `cell-end` carries it (already masked). */
export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** The ended cells of one run. */
export class CellResults {
  private readonly ended = new Map<number, { status: CellStatus; durationMs: number }>();

  constructor(
    private readonly runId: string,
    private readonly collector: OutputCollector,
    private readonly emit: (event: RunEvent) => void,
  ) {}

  /** Whether cell `index` has ended. */
  has(index: number): boolean {
    return this.ended.has(index);
  }

  /**
   * Ends a cell: its output limits and the peak resident memory of its kernel's processes
   * recorded (`peak_rss_bytes`, when known), its status, duration and peak emitted.
   */
  end(
    index: number,
    cell: CodeCell,
    status: CellStatus,
    durationMs: number,
    error?: CellError,
    check?: CellCheckNote,
    peakRssBytes: number | null = null,
  ): void {
    const output = this.collector.endCell(index);
    if (output !== null || peakRssBytes !== null) {
      cell.metadata.nbstage = {
        ...(cell.metadata.nbstage ?? {}),
        ...(output === null ? {} : { output: output as unknown as JSONObject }),
        ...(peakRssBytes === null ? {} : { peak_rss_bytes: peakRssBytes }),
      };
    }
    this.ended.set(index, { status, durationMs });
    this.emit({
      type: 'cell-end',
      runId: this.runId,
      at: new Date().toISOString(),
      index,
      status,
      durationMs,
      executionCount: cell.execution_count,
      ...(error === undefined ? {} : { error }),
      ...(check === undefined ? {} : { check }),
      ...(peakRssBytes === null ? {} : { peakRssBytes }),
    });
  }

  /** Ends every cell of `cells` that has not ended as aborted (queued, never run). */
  abortRest(cells: readonly number[]): void {
    for (const index of cells) {
      if (!this.ended.has(index)) {
        this.ended.set(index, { status: 'aborted', durationMs: 0 });
        this.emit({
          type: 'cell-end',
          runId: this.runId,
          at: new Date().toISOString(),
          index,
          status: 'aborted',
          durationMs: 0,
          executionCount: null,
        });
      }
    }
  }

  /** Writes each ended cell's run record (status, duration, stage) into `nb`. */
  record(nb: Notebook, stageOf: readonly (string | null)[]): void {
    for (const [index, info] of this.ended) {
      recordCell(nb.cells[index] as CodeCell, { ...info, stage: stageOf[index] ?? null });
    }
  }
}
