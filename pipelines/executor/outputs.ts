/**
 * Turns a cell's iopub messages into nbformat outputs with nbclient's semantics: consecutive
 * stream chunks coalesce, `clear_output(wait=True)` clears on the next output, display ids are
 * updated in place across the whole notebook, transient data is never stored. Every change is
 * reported as a run event; secrets are masked before anything is stored or emitted (stream text
 * chunk by chunk, see `stream-mask.ts`). The output limits (`output-limits.ts`) decide what is
 * kept in the notebook, what goes to the console only and where markers go; cut cells get their
 * whole output written to a file as it arrives (`full-output.ts`).
 */
import type { KernelMessage } from '@jupyterlab/services';
import type { CodeCell, JSONObject, MimeBundle, Output } from '../notebook/model';
import type { Masker } from '../secrets/mask';
import { StreamMasker } from '../secrets/stream-mask';
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

/** The mimetype of metric display data (`nbstage.record`). */
export const METRIC_MIME = 'application/vnd.nbstage.metric+json';

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

/** Per-cell state of the limits. */
interface CellState {
  kept: number;
  total: number;
  /** Which limit cut the cell, once one did. */
  truncated: 'cell' | 'run' | null;
  /** Whether the cell shows the marker of a run over its limit. */
  runMarked: boolean;
  maskers: Map<'stdout' | 'stderr', StreamMasker>;
}

/** Options of {@link OutputCollector} beyond the run's identity. */
export interface OutputCollectorOptions {
  masker: Masker | null;
  limits?: OutputLimits;
  /** Folder of the full-output files of cut cells; null keeps none. */
  fullOutputDir?: string | null;
}

/** The text of an output as the console and the full-output files show it. */
function plainText(output: Output): string {
  switch (output.output_type) {
    case 'stream':
      return Array.isArray(output.text) ? output.text.join('') : output.text;
    case 'error':
      return `${output.traceback.length > 0 ? output.traceback.join('\n') : `${output.ename}: ${output.evalue}`}\n`;
    default: {
      const plain = output.data['text/plain'];
      const text = Array.isArray(plain) ? plain.join('') : typeof plain === 'string' ? plain : null;
      return text === null
        ? `[${Object.keys(output.data)[0] ?? 'empty'} output]\n`
        : `${text.replace(/\n$/, '')}\n`;
    }
  }
}

/** Bytes an output takes against the limits (its JSON, for rich outputs). */
function outputBytes(output: Output): number {
  return output.output_type === 'stream'
    ? Buffer.byteLength(plainText(output), 'utf8')
    : Buffer.byteLength(JSON.stringify(output), 'utf8');
}

/** The longest start of `text` that takes at most `bytes` bytes of UTF-8. */
function headBytes(text: string, bytes: number): string {
  if (bytes <= 0) {
    return '';
  }
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) {
    return text;
  }
  let end = bytes;
  while (end > 0 && (buf[end] & 0xc0) === 0x80) {
    end -= 1; // never split a character
  }
  return buf.subarray(0, end).toString('utf8');
}

/** Collects outputs for all cells of one run. */
export class OutputCollector {
  private readonly displays = new Map<string, { cell: CodeCell; index: number }[]>();
  private readonly clearPending = new Set<CodeCell>();
  private readonly cells = new Map<number, CellState>();
  private readonly masker: Masker | null;
  private readonly limits: OutputLimits;
  private readonly files: FullOutputFiles;
  /** Bytes of output streamed so far (kept and console-only), against the run's limit. */
  private streamed = 0;
  private runOver = false;
  /** Metrics recorded with `nbstage.record`, in order. */
  readonly metrics: { name: string; value: JSONObject[string]; cell: number }[] = [];

  constructor(
    private readonly runId: string,
    private readonly emit: (event: RunEvent) => void,
    options: OutputCollectorOptions,
  ) {
    this.masker = options.masker;
    this.limits = options.limits ?? DEFAULT_OUTPUT_LIMITS;
    this.files = new FullOutputFiles(options.fullOutputDir ?? null, this.limits.fullOutputBytes);
  }

  private state(index: number): CellState {
    let state = this.cells.get(index);
    if (state === undefined) {
      state = { kept: 0, total: 0, truncated: null, runMarked: false, maskers: new Map() };
      this.cells.set(index, state);
    }
    return state;
  }

  private mask<T extends Output>(output: T): T {
    return this.masker === null || !this.masker.active
      ? output
      : (this.masker.maskOutput(output) as T);
  }

  /** Applies one iopub message (anything but status/execute_input) to cell `index`. */
  handle(index: number, cell: CodeCell, msg: KernelMessage.IIOPubMessage): void {
    const type = msg.header.msg_type;
    switch (type) {
      case 'stream': {
        const content = (msg as KernelMessage.IStreamMsg).content;
        this.flushClear(index, cell);
        this.flushStreams(index, cell, content.name);
        const masker = this.streamMasker(index, content.name);
        this.appendStream(
          index,
          cell,
          content.name,
          masker === null ? content.text : masker.push(content.text),
        );
        break;
      }
      case 'display_data':
      case 'execute_result': {
        const content = (msg as KernelMessage.IDisplayDataMsg | KernelMessage.IExecuteResultMsg)
          .content as {
          data: MimeBundle;
          metadata: JSONObject;
          transient?: { display_id?: string };
          execution_count?: number;
        };
        this.flushClear(index, cell);
        this.flushStreams(index, cell, null);
        const output: Output =
          type === 'execute_result'
            ? {
                output_type: 'execute_result',
                execution_count: content.execution_count ?? null,
                data: content.data,
                metadata: content.metadata ?? {},
              }
            : { output_type: 'display_data', data: content.data, metadata: content.metadata ?? {} };
        this.recordMetric(index, content.data);
        const masked = this.mask(output);
        const displayId = content.transient?.display_id;
        if (typeof displayId === 'string') {
          // As nbclient: showing a display id again also updates where it was shown before.
          this.updateDisplay(displayId, content.data, content.metadata ?? {});
        }
        if (!this.admit(index, cell, masked, false)) {
          break;
        }
        cell.outputs.push(masked);
        if (typeof displayId === 'string') {
          const list = this.displays.get(displayId) ?? [];
          list.push({ cell, index: cell.outputs.length - 1 });
          this.displays.set(displayId, list);
        }
        this.emit({ type: 'output', runId: this.runId, index, output: masked });
        break;
      }
      case 'update_display_data': {
        const content = (msg as KernelMessage.IUpdateDisplayDataMsg).content as {
          data: MimeBundle;
          metadata: JSONObject;
          transient?: { display_id?: string };
        };
        const displayId = content.transient?.display_id;
        if (typeof displayId !== 'string') {
          break;
        }
        this.updateDisplay(displayId, content.data, content.metadata ?? {});
        break;
      }
      case 'clear_output': {
        this.flushStreams(index, cell, null);
        const wait = (msg as KernelMessage.IClearOutputMsg).content.wait;
        if (wait) {
          this.clearPending.add(cell);
        } else {
          this.clear(index, cell);
        }
        break;
      }
      case 'error': {
        const content = (msg as KernelMessage.IErrorMsg).content;
        this.flushClear(index, cell);
        this.flushStreams(index, cell, null);
        const output = this.mask({
          output_type: 'error' as const,
          ename: content.ename,
          evalue: content.evalue,
          traceback: content.traceback,
        });
        // Errors are always kept: they say why the cell failed.
        this.admit(index, cell, output, true);
        cell.outputs.push(output);
        this.emit({ type: 'output', runId: this.runId, index, output });
        break;
      }
      default:
        break;
    }
  }

  private readonly cellIndexOf = new Map<CodeCell, number>();

  private updateDisplay(displayId: string, data: MimeBundle, metadata: JSONObject): void {
    for (const target of this.displays.get(displayId) ?? []) {
      const old = target.cell.outputs[target.index];
      if (
        old === undefined ||
        (old.output_type !== 'display_data' && old.output_type !== 'execute_result')
      ) {
        continue;
      }
      const updated = this.mask({ ...old, data, metadata });
      target.cell.outputs[target.index] = updated;
      const targetIndex = this.cellIndexOf.get(target.cell);
      if (targetIndex !== undefined) {
        this.emit({
          type: 'output-update',
          runId: this.runId,
          index: targetIndex,
          outputIndex: target.index,
          output: updated,
        });
      }
    }
  }

  /** Registers the notebook index of a cell (for display updates that reach other cells). */
  track(index: number, cell: CodeCell): void {
    this.cellIndexOf.set(cell, index);
  }

  /** The masker of one stream of a cell (null when there is nothing to mask). */
  private streamMasker(index: number, name: 'stdout' | 'stderr'): StreamMasker | null {
    if (this.masker === null || !this.masker.active) {
      return null;
    }
    const maskers = this.state(index).maskers;
    let masker = maskers.get(name);
    if (masker === undefined) {
      masker = new StreamMasker(this.masker);
      maskers.set(name, masker);
    }
    return masker;
  }

  /** Emits the text the stream maskers of a cell hold back (but that of stream `keep`). */
  private flushStreams(index: number, cell: CodeCell, keep: 'stdout' | 'stderr' | null): void {
    const state = this.cells.get(index);
    if (state === undefined) {
      return;
    }
    for (const [name, masker] of state.maskers) {
      if (name !== keep && masker.pending) {
        this.appendStream(index, cell, name, masker.flush());
      }
    }
  }

  /**
   * Decides where output goes under the limits; returns whether it is kept in the notebook.
   * Output that is not kept is emitted here (to the console only) when the run's limit allows.
   */
  private admit(index: number, cell: CodeCell, output: Output, always: boolean): boolean {
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
        this.keepText(index, cell, name, head);
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
    this.keepText(index, cell, 'stderr', `${open ? '\n' : ''}${text}`);
    state.kept += text.length;
  }

  private consoleOnly(index: number, output: Output): void {
    const shown: Output =
      output.output_type === 'display_data' || output.output_type === 'execute_result'
        ? { ...output, data: { 'text/plain': plainText(output).replace(/\n$/, '') }, metadata: {} }
        : output;
    this.emit({ type: 'output', runId: this.runId, index, output: shown, consoleOnly: true });
  }

  /** Appends masked stream text to the cell (coalescing with its last stream) and emits it. */
  private keepText(index: number, cell: CodeCell, name: 'stdout' | 'stderr', text: string): void {
    const last = cell.outputs[cell.outputs.length - 1];
    if (last !== undefined && last.output_type === 'stream' && last.name === name) {
      // Plain concatenation: V8 keeps it as a rope, so a long stream costs no copying here.
      last.text = (Array.isArray(last.text) ? last.text.join('') : last.text) + text;
    } else {
      cell.outputs.push({ output_type: 'stream', name, text });
    }
    this.emit({
      type: 'output',
      runId: this.runId,
      index,
      output: { output_type: 'stream', name, text },
    });
  }

  private appendStream(
    index: number,
    cell: CodeCell,
    name: 'stdout' | 'stderr',
    text: string,
  ): void {
    if (text === '') {
      return;
    }
    const output: Output = { output_type: 'stream', name, text };
    if (this.admit(index, cell, output, false)) {
      this.keepText(index, cell, name, text);
    }
  }

  /**
   * Ends a cell's output: emits the text its stream maskers held back and closes its full-output
   * file. Returns what the limits did to the cell, or null when they did nothing.
   */
  endCell(index: number, cell: CodeCell): CellOutputInfo | null {
    this.flushStreams(index, cell, null);
    const state = this.cells.get(index);
    if (state === undefined || state.truncated === null) {
      return null;
    }
    const file = this.files.get(index);
    void file?.end();
    return {
      truncated: state.truncated,
      total_bytes: state.total,
      kept_bytes: state.kept,
      full_output: file === null ? null : fullOutputName(index),
    };
  }

  /** Finishes every full-output file (before the run's end is reported). */
  async close(): Promise<void> {
    await this.files.close();
  }

  private flushClear(index: number, cell: CodeCell): void {
    if (this.clearPending.has(cell)) {
      this.clearPending.delete(cell);
      this.clear(index, cell);
    }
  }

  private clear(index: number, cell: CodeCell): void {
    cell.outputs = [];
    for (const [id, list] of this.displays) {
      const kept = list.filter((t) => t.cell !== cell);
      if (kept.length === 0) {
        this.displays.delete(id);
      } else {
        this.displays.set(id, kept);
      }
    }
    this.emit({ type: 'output-clear', runId: this.runId, index });
  }

  private recordMetric(index: number, data: MimeBundle): void {
    const metric = data[METRIC_MIME];
    if (metric !== null && typeof metric === 'object' && !Array.isArray(metric)) {
      const name = metric.name;
      if (typeof name === 'string' && name !== '') {
        const value = metric.value ?? null;
        this.metrics.push({
          name,
          value: this.masker === null || !this.masker.active ? value : this.masker.maskValue(value),
          cell: index,
        });
      }
    }
  }
}
