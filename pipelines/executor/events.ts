/**
 * The one stream of typed events a run emits. The executor is the only owner of run state; the
 * console, the progress bar, the file writers and the service (event logs, live streams) all
 * listen to these events, called the one way `outcome.ts` calls listeners.
 */
import type { JSONObject, JSONValue, Notebook, Output } from '../notebook/model';

/** How a run ended. */
export type RunStatus = 'completed' | 'failed' | 'timeout' | 'kernel_died' | 'cancelled' | 'error';

/** Every {@link RunStatus}: the states a finished run can be in. */
export const RUN_STATUSES: readonly RunStatus[] = [
  'completed',
  'failed',
  'timeout',
  'kernel_died',
  'cancelled',
  'error',
];

/** How a cell ended. `aborted`: queued but never run because an earlier cell stopped the run. */
export type CellStatus =
  'ok' | 'error' | 'skipped' | 'aborted' | 'timeout' | 'cancelled' | 'kernel_died';

/** Error details recorded for a failed run or cell (already masked). */
export interface RunErrorInfo {
  code: string;
  message: string;
  cell_index?: number;
  ename?: string;
  evalue?: string;
}

/** Emitted once, before any cell runs. */
export interface RunStartEvent {
  type: 'run-start';
  runId: string;
  at: string;
  kernel: string;
  language: string;
  /** Indices (in the notebook) of the cells that will be sent to the kernel, in order. */
  cells: number[];
  stages: string[];
  parameters: JSONObject;
  /** The notebook as it is about to run (parameters injected, no outputs yet cleared). */
  notebook?: Notebook;
}

/** A cell started executing in the kernel. */
export interface CellStartEvent {
  type: 'cell-start';
  runId: string;
  at: string;
  index: number;
  /** Position among the cells of this run (0-based) and their count, for progress. */
  position: number;
  total: number;
  stage: string | null;
  firstLine: string;
}

/**
 * A new output of a cell (a stream chunk carries just the new text). Already masked.
 * `consoleOnly`: output past the cell's output limit, for the console and live streams only;
 * it is not part of the executed notebook (replays leave it out).
 */
export interface OutputEvent {
  type: 'output';
  runId: string;
  index: number;
  output: Output;
  consoleOnly?: boolean;
}

/** A display_data output was updated in place (update_display_data). */
export interface OutputUpdateEvent {
  type: 'output-update';
  runId: string;
  index: number;
  outputIndex: number;
  output: Output;
}

/** A cell's outputs were cleared (clear_output). */
export interface OutputClearEvent {
  type: 'output-clear';
  runId: string;
  index: number;
}

/** A cell finished (or was skipped/aborted). */
export interface CellEndEvent {
  type: 'cell-end';
  runId: string;
  at: string;
  index: number;
  status: CellStatus;
  durationMs: number;
  executionCount: number | null;
  error?: { ename: string; evalue: string; traceback: string[] };
  /** The cell's outputs against the run's baseline, when the run has one and compared the cell. */
  check?: CellCheckNote;
  /**
   * The peak resident memory of the kernel's processes while the cell ran, in bytes, when it
   * was measured (what `metadata.nbstage.peak_rss_bytes` records).
   */
  peakRssBytes?: number;
}

/** What a cell's comparison with its baseline found, as the console shows it after the cell. */
export interface CellCheckNote {
  status: 'same' | 'differs';
  /** What the cell was compared with, in words: `stored`, `build 41`, a file name. */
  against: string;
  /** For differs: the first difference, e.g. `output 1 (text/plain): 0.91 became 0.87 (rtol 1e-06)`. */
  message?: string;
}

/**
 * A run's checks (a baseline, gates), as the executor asks them: `cell` as each cell ends (its
 * note goes into the cell's `cell-end`), `run` once every cell has run, with the executed
 * notebook (cell metadata filled in) and the run's metrics: its `record` becomes
 * `metadata.nbstage.checks`, and failures end a run that completed with a CheckFailedError
 * (naming `cell`, the first cell that differs, as the run's failing cell).
 */
export interface RunChecks {
  cell(nb: Notebook, index: number): CellCheckNote | null;
  run(
    nb: Notebook,
    metrics: Record<string, JSONValue>,
  ): { record: JSONObject; failures: string[]; cell?: number };
}

/** Emitted once, last: the executed notebook as it stands (also on failure). */
export interface RunEndEvent {
  type: 'run-end';
  runId: string;
  at: string;
  status: RunStatus;
  durationMs: number;
  error?: RunErrorInfo;
  notebook: Notebook;
}

/** Any run event. */
export type RunEvent =
  | RunStartEvent
  | CellStartEvent
  | OutputEvent
  | OutputUpdateEvent
  | OutputClearEvent
  | CellEndEvent
  | RunEndEvent;

/** A listener of run events. May return a promise; the executor awaits sinks at run-end. */
export type RunEventListener = (event: RunEvent) => void | Promise<void>;
