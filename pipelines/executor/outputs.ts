/**
 * Turns a cell's iopub messages into nbformat outputs with nbclient's semantics: consecutive
 * stream chunks coalesce, `clear_output(wait=True)` clears on the next output, display ids are
 * updated in place across the whole notebook, transient data is never stored. Every change is
 * reported as a run event; secrets are masked before anything is stored or emitted. Stream text
 * is masked as the text of the cell's streams, not chunk by chunk (`stream-mask.ts`): a secret
 * printed in pieces is masked whole, the pieces that could start one held back until the next
 * chunk or the cell's end. Every output passes the run's output budget
 * (`output-budget.ts`), which decides what is kept in the notebook and what goes to the console
 * only; metrics recorded with `nbstage.record` are collected as they arrive.
 */
import type { KernelMessage } from '@jupyterlab/services';
import { metricOf } from '../notebook/metric';
import type {
  CodeCell,
  DisplayDataOutput,
  ExecuteResultOutput,
  JSONObject,
  MimeBundle,
  Output,
} from '../notebook/model';
import type { Masker } from '../secrets/mask';
import { StreamMasker, type StreamPiece } from '../secrets/stream-mask';
import type { RunEvent } from './events';
import { RESOURCES_MIME } from './kernel-peak';
import { OutputBudget, type CellOutputInfo } from './output-budget';
import type { OutputLimits } from './output-limits';

/** The name of a stream output. */
type StreamName = 'stdout' | 'stderr';

/** Options of {@link OutputCollector} beyond the run's identity. */
export interface OutputCollectorOptions {
  masker: Masker | null;
  limits?: OutputLimits;
  /** Folder of the full-output files of cut cells; null keeps none. */
  fullOutputDir?: string | null;
}

/** Collects outputs for all cells of one run. */
export class OutputCollector {
  private readonly displays = new Map<string, { cell: CodeCell; index: number }[]>();
  private readonly clearPending = new Set<CodeCell>();
  /** The stream masker of each cell (it holds back text that may be a secret's start). */
  private readonly maskers = new Map<
    number,
    { cell: CodeCell; masker: StreamMasker<StreamName> }
  >();
  private readonly cellIndexOf = new Map<CodeCell, number>();
  private readonly masker: Masker | null;
  private readonly budget: OutputBudget;
  /** Metrics recorded with `nbstage.record`, in order. */
  readonly metrics: { name: string; value: JSONObject[string]; cell: number }[] = [];
  /** The peak resident memory of each failed cell as its kernel published it (`kernel-peak.ts`). */
  private readonly peaks = new Map<number, number>();

  constructor(
    private readonly runId: string,
    private readonly emit: (event: RunEvent) => void,
    options: OutputCollectorOptions,
  ) {
    this.masker = options.masker;
    this.budget = new OutputBudget(
      runId,
      {
        keepText: (index, cell, name, text) => this.keepText(index, cell, name, text),
        emit: (event) => this.emit(event),
      },
      { limits: options.limits, fullOutputDir: options.fullOutputDir },
    );
  }

  private mask<T extends Output>(output: T): T {
    return this.masker === null || !this.masker.active
      ? output
      : (this.masker.maskOutput(output) as T);
  }

  /**
   * The peak resident memory cell `index`'s kernel published for it, if it did (a failed cell's:
   * a cell that succeeded has it in its reply, `kernel-peak.ts`).
   */
  peakOf(index: number): number | null {
    return this.peaks.get(index) ?? null;
  }

  /** Applies one iopub message (anything but status/execute_input) to cell `index`. */
  handle(index: number, cell: CodeCell, msg: KernelMessage.IIOPubMessage): void {
    const type = msg.header.msg_type;
    switch (type) {
      case 'stream': {
        const content = (msg as KernelMessage.IStreamMsg).content;
        this.flushClear(index, cell);
        const masker = this.streamMasker(index, cell);
        if (masker === null) {
          this.appendStream(index, cell, content.name, content.text);
        } else {
          this.appendPieces(index, cell, masker.push(content.name, content.text));
        }
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
        const resources = content.data[RESOURCES_MIME] as { peak_rss_bytes?: unknown } | undefined;
        if (resources !== undefined) {
          // The kernel's own measure of the cell, not an output of it.
          if (typeof resources.peak_rss_bytes === 'number') {
            this.peaks.set(index, resources.peak_rss_bytes);
          }
          break;
        }
        this.flushClear(index, cell);
        this.flushStreams(index);
        const output: DisplayDataOutput | ExecuteResultOutput =
          type === 'execute_result'
            ? {
                output_type: 'execute_result',
                execution_count: content.execution_count ?? null,
                data: content.data,
                metadata: content.metadata ?? {},
              }
            : { output_type: 'display_data', data: content.data, metadata: content.metadata ?? {} };
        const masked = this.mask(output);
        this.recordMetric(index, masked.data);
        const displayId = content.transient?.display_id;
        if (typeof displayId === 'string') {
          // As nbclient: showing a display id again also updates where it was shown before.
          this.updateDisplay(displayId, content.data, content.metadata ?? {});
        }
        if (!this.budget.admit(index, cell, masked, false)) {
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
        this.flushStreams(index);
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
        this.flushStreams(index);
        const output = this.mask({
          output_type: 'error' as const,
          ename: content.ename,
          evalue: content.evalue,
          traceback: content.traceback,
        });
        // Errors are always kept: they say why the cell failed.
        this.budget.admit(index, cell, output, true);
        cell.outputs.push(output);
        this.emit({ type: 'output', runId: this.runId, index, output });
        break;
      }
      default:
        break;
    }
  }

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

  /** The stream masker of a cell (null when there is nothing to mask). */
  private streamMasker(index: number, cell: CodeCell): StreamMasker<StreamName> | null {
    if (this.masker === null || !this.masker.active) {
      return null;
    }
    let entry = this.maskers.get(index);
    if (entry === undefined) {
      entry = { cell, masker: new StreamMasker<StreamName>(this.masker) };
      this.maskers.set(index, entry);
    }
    return entry.masker;
  }

  /** Emits the stream text the masker of a cell holds back, masked. */
  private flushStreams(index: number): void {
    const entry = this.maskers.get(index);
    if (entry !== undefined && entry.masker.pending) {
      this.appendPieces(index, entry.cell, entry.masker.flush());
    }
  }

  /** Appends masked stream text, piece by piece. */
  private appendPieces(index: number, cell: CodeCell, pieces: StreamPiece<StreamName>[]): void {
    for (const piece of pieces) {
      this.appendStream(index, cell, piece.name, piece.text);
    }
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
    if (this.budget.admit(index, cell, output, false)) {
      this.keepText(index, cell, name, text);
    }
  }

  /**
   * Ends a cell's output: emits the text its stream masker held back and closes its full-output
   * file. Returns what the limits did to the cell, or null when they did nothing.
   */
  endCell(index: number): CellOutputInfo | null {
    this.flushStreams(index);
    return this.budget.endCell(index);
  }

  /**
   * Emits what every cell's stream masker still holds back (text of a cell that came after its
   * end), then finishes every full-output file (before the run's end is reported).
   */
  async close(): Promise<void> {
    for (const index of this.maskers.keys()) {
      this.flushStreams(index);
    }
    await this.budget.close();
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

  /** Collects the metric of a (masked) mime bundle: its name and value are masked already. */
  private recordMetric(index: number, data: MimeBundle): void {
    const metric = metricOf(data);
    if (metric !== null) {
      this.metrics.push({ name: metric.name, value: metric.value, cell: index });
    }
  }
}
