/**
 * Turns a cell's iopub messages into nbformat outputs with nbclient's semantics: consecutive
 * stream chunks coalesce, `clear_output(wait=True)` clears on the next output, display ids are
 * updated in place across the whole notebook, transient data is never stored. Every change is
 * reported as a run event; secrets are masked before anything is stored or emitted.
 */
import type { KernelMessage } from '@jupyterlab/services';
import type { CodeCell, JSONObject, MimeBundle, Output } from '../notebook/model';
import type { Masker } from '../secrets/mask';
import type { RunEvent } from './events';

/** The mimetype of metric display data (`nbstage.record`). */
export const METRIC_MIME = 'application/vnd.nbstage.metric+json';

/** Collects outputs for all cells of one run. */
export class OutputCollector {
  private readonly displays = new Map<string, { cell: CodeCell; index: number }[]>();
  private readonly clearPending = new Set<CodeCell>();
  /** Metrics recorded with `nbstage.record`, in order. */
  readonly metrics: { name: string; value: JSONObject[string]; cell: number }[] = [];

  constructor(
    private readonly runId: string,
    private readonly emit: (event: RunEvent) => void,
    private readonly masker: Masker | null,
  ) {}

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
        this.appendStream(index, cell, content.name, content.text);
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
        const output = this.mask({
          output_type: 'error' as const,
          ename: content.ename,
          evalue: content.evalue,
          traceback: content.traceback,
        });
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

  private appendStream(
    index: number,
    cell: CodeCell,
    name: 'stdout' | 'stderr',
    raw: string,
  ): void {
    const text = this.masker === null || !this.masker.active ? raw : this.masker.mask(raw);
    const last = cell.outputs[cell.outputs.length - 1];
    if (last !== undefined && last.output_type === 'stream' && last.name === name) {
      const joined = (Array.isArray(last.text) ? last.text.join('') : last.text) + text;
      // A secret split across two chunks is only whole once joined: mask the joined text.
      last.text = this.masker === null || !this.masker.active ? joined : this.masker.mask(joined);
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
