/**
 * The output limits applied as a run's outputs arrive: per cell and for the whole run, what is
 * kept in the notebook, what goes to the console only, where the markers go, and which cells get
 * their whole output written to a file (`full-output.ts`). The collector (`outputs.ts`) asks it
 * about every output before keeping it.
 */
import type { CodeCell, Output } from '../notebook/model';
import type { RunEvent } from './events';
import { FullOutputFiles } from './full-output';
import {
  DEFAULT_OUTPUT_LIMITS,
  afterRunLimitMarker,
  cellLimitMarker,
  fullOutputName,
  runLimitMarker,
  type OutputLimits,
} from './output-limits';
import { headBytes, outputBytes, plainText } from './output-text';

/** What happened to a cell's output under the limits (`metadata.nbstage.output` of the cell). */
export interface CellOutputInfo {
  /** `cell` or `run`: which limit cut the cell's output. */
  truncated: 'cell' | 'run';
  /** Bytes of output the cell wrote, and those kept in the notebook. */
  total_bytes: number;
  kept_bytes: number;
  /** Artifact name of the full output, when it is kept. */
  full_output: string | null;
}

/** How the budget puts text into a cell and reports console-only output. */
export interface BudgetTarget {
  /** Appends stream text to the cell (kept in the notebook) and emits it. */
  keepText(index: number, cell: CodeCell, name: 'stdout' | 'stderr', text: string): void;
  emit(event: RunEvent): void;
}

/** Per-cell state of the limits. */
interface CellState {
  kept: number;
  total: number;
  /** Which limit cut the cell, once one did. */
  truncated: 'cell' | 'run' | null;
  /** Whether the cell shows the marker of a run over its limit. */
  runMarked: boolean;
}

/** The output limits of one run. */
export class OutputBudget {
  private readonly cells = new Map<number, CellState>();
  private readonly limits: OutputLimits;
  private readonly files: FullOutputFiles;
  /** Bytes of output streamed so far (kept and console-only), against the run's limit. */
  private streamed = 0;
  private runOver = false;

  constructor(
    private readonly runId: string,
    private readonly target: BudgetTarget,
    options: { limits?: OutputLimits; fullOutputDir?: string | null },
  ) {
    this.limits = options.limits ?? DEFAULT_OUTPUT_LIMITS;
    this.files = new FullOutputFiles(options.fullOutputDir ?? null, this.limits.fullOutputBytes);
  }

  private state(index: number): CellState {
    let state = this.cells.get(index);
    if (state === undefined) {
      state = { kept: 0, total: 0, truncated: null, runMarked: false };
      this.cells.set(index, state);
    }
    return state;
  }

  /**
   * Decides where output goes under the limits; returns whether it is kept in the notebook
   * (`always`: it is, whatever the limits say). Output that is not kept is emitted here (to the
   * console only) when the run's limit allows.
   */
  admit(index: number, cell: CodeCell, output: Output, always: boolean): boolean {
    const state = this.state(index);
    const bytes = outputBytes(output);
    state.total += bytes;
    this.files.get(index)?.write(plainText(output), output.output_type !== 'stream');
    if (always) {
      state.kept += bytes;
      this.streamed += bytes;
      return true;
    }
    if (this.runOver) {
      this.markAfterRunLimit(index, cell, state, output);
      return false;
    }
    const { cellBytes, runBytes } = this.limits;
    const cellRoom = cellBytes > 0 && state.truncated === null ? cellBytes - state.kept : Infinity;
    const runRoom = runBytes > 0 ? runBytes - this.streamed : Infinity;
    const keepRoom = state.truncated === null ? Math.min(cellRoom, runRoom) : 0;
    if (bytes <= keepRoom) {
      state.kept += bytes;
      this.streamed += bytes;
      return true;
    }
    // Over a limit: keep (streams) what fits, then the marker, then the console gets the rest.
    const text = output.output_type === 'stream' ? plainText(output) : '';
    const name = output.output_type === 'stream' ? output.name : 'stdout';
    let rest = output;
    if (state.truncated === null) {
      const head = headBytes(text, keepRoom);
      if (head !== '') {
        this.target.keepText(index, cell, name, head);
        state.kept += Buffer.byteLength(head, 'utf8');
        this.streamed += Buffer.byteLength(head, 'utf8');
      }
      if (runRoom <= cellRoom) {
        this.overRun(index, cell, state, output, head.length);
        return false;
      }
      state.truncated = 'cell';
      this.openFull(index, cell, output, head.length);
      this.marker(index, cell, state, cellLimitMarker(index, this.limits, this.files.enabled));
      rest =
        output.output_type === 'stream' ? { ...output, text: text.slice(head.length) } : output;
    }
    const restBytes = rest === output ? bytes : Buffer.byteLength(plainText(rest), 'utf8');
    if (restBytes <= runRoom) {
      this.consoleOnly(index, rest);
      this.streamed += restBytes;
      return false;
    }
    const restText = rest.output_type === 'stream' ? plainText(rest) : '';
    const head = headBytes(restText, runRoom);
    if (head !== '' && rest.output_type === 'stream') {
      this.consoleOnly(index, { ...rest, text: head });
      this.streamed += Buffer.byteLength(head, 'utf8');
    }
    this.overRun(index, cell, state, output, 0);
    return false;
  }

  /** The run just passed its limit in cell `index`: its marker, and nothing more after it. */
  private overRun(
    index: number,
    cell: CodeCell,
    state: CellState,
    output: Output,
    keptChars: number,
  ): void {
    if (state.truncated === null) {
      state.truncated = 'run';
      this.openFull(index, cell, output, keptChars);
    }
    this.runOver = true;
    state.runMarked = true;
    this.marker(index, cell, state, runLimitMarker(index, this.limits, this.files.enabled));
  }

  /** Output of a cell after the run passed its limit: one marker per cell, the file. */
  private markAfterRunLimit(index: number, cell: CodeCell, state: CellState, output: Output): void {
    if (state.truncated === null) {
      state.truncated = 'run';
      this.openFull(index, cell, output, 0);
    }
    if (!state.runMarked) {
      state.runMarked = true;
      this.marker(index, cell, state, afterRunLimitMarker(index, this.limits, this.files.enabled));
    }
  }

  /**
   * Opens the full-output file of a cell that was just cut: what the cell kept so far, then the
   * output that crossed the limit, whose first `keptChars` characters are among the kept ones.
   */
  private openFull(index: number, cell: CodeCell, output: Output, keptChars: number): void {
    const file = this.files.open(index);
    if (file === null) {
      return;
    }
    for (const kept of cell.outputs) {
      file.write(plainText(kept), kept.output_type !== 'stream');
    }
    file.write(plainText(output).slice(keptChars), output.output_type !== 'stream');
  }

  /** A marker output: stream text of nbstage's own, kept in the notebook and shown. */
  private marker(index: number, cell: CodeCell, state: CellState, text: string): void {
    const last = cell.outputs[cell.outputs.length - 1];
    const open =
      last?.output_type === 'stream' &&
      !(Array.isArray(last.text) ? last.text.join('') : last.text).endsWith('\n');
    this.target.keepText(index, cell, 'stderr', `${open ? '\n' : ''}${text}`);
    state.kept += text.length;
  }

  private consoleOnly(index: number, output: Output): void {
    const shown: Output =
      output.output_type === 'display_data' || output.output_type === 'execute_result'
        ? { ...output, data: { 'text/plain': plainText(output).replace(/\n$/, '') }, metadata: {} }
        : output;
    this.target.emit({
      type: 'output',
      runId: this.runId,
      index,
      output: shown,
      consoleOnly: true,
    });
  }

  /**
   * Ends a cell: closes its full-output file. Returns what the limits did to the cell, or null
   * when they did nothing.
   */
  endCell(index: number): CellOutputInfo | null {
    const state = this.cells.get(index);
    if (state === undefined || state.truncated === null) {
      return null;
    }
    const file = this.files.get(index);
    // Ending starts now; it never rejects (a disk error is the file's own note) and close()
    // waits for it.
    void file?.end();
    return {
      truncated: state.truncated,
      total_bytes: state.total,
      kept_bytes: state.kept,
      full_output: file === null ? null : fullOutputName(index),
    };
  }

  /** Finishes every full-output file. */
  async close(): Promise<void> {
    await this.files.close();
  }
}
