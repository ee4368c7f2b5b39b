/**
 * A cell's iopub messages on their way into the run: applied to the cell the run waits on, held
 * back for a cell the run has not got to yet (replayed in order when it does, so the console
 * never mixes two cells), applied late to a finished cell, dropped once the run is stopping.
 * The kernel starting a cell starts its clock and its timeout, whatever the console shows.
 */
import type { KernelMessage } from '@jupyterlab/services';
import { TimeoutError } from '../errors';
import { firstSourceLine } from '../notebook/model';
import type { Masker } from '../secrets/mask';
import { setExecutionTime } from './cell-record';
import type { CellRequest } from './cell-request';
import type { EarlyStop } from './early-stop';
import type { RunEvent } from './events';
import { kernelTime } from './kernel-clock';
import type { OutputCollector } from './outputs';

/** What the messages of a run's cells go to. */
export interface CellMessageContext {
  runId: string;
  collector: OutputCollector;
  emit: (event: RunEvent) => void;
  masker: Masker | null;
  /** Position of each cell among the run's cells, and their count (for progress). */
  positionOf: ReadonlyMap<number, number>;
  total: number;
  stageOf: readonly (string | null)[];
  /** Seconds one cell may run. */
  cellTimeoutS?: number;
  stopper: EarlyStop;
  /** The request the run waits on. */
  current: () => CellRequest | null;
  /** Whether the cell has ended. */
  isFinished: (index: number) => boolean;
}

function now(): string {
  return new Date().toISOString();
}

/** Routes and applies the iopub messages of one run's cells. */
export class CellMessages {
  constructor(private readonly ctx: CellMessageContext) {}

  /** Takes one iopub message of `request` as it arrives. */
  route(request: CellRequest, msg: KernelMessage.IIOPubMessage): void {
    if (this.ctx.current() === request) {
      this.apply(request, msg, now());
    } else if (this.ctx.stopper.error !== null) {
      // The run is ending: only the cell it waits on still counts.
    } else if (this.ctx.isFinished(request.index)) {
      // A finished cell's late message (rare): applied where it belongs.
      this.apply(request, msg, now());
    } else {
      const type = msg.header.msg_type;
      const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
      if (type === 'execute_input' || (type === 'status' && state === 'busy')) {
        this.startClock(request);
      }
      request.early.push({ msg, at: now() });
    }
  }

  /** Applies the messages held back for `request`, now that the run waits on it. */
  replayEarly(request: CellRequest): void {
    for (const early of request.early.splice(0)) {
      this.apply(request, early.msg, early.at);
    }
  }

  /** Applies one iopub message to the request's cell. */
  private apply(request: CellRequest, msg: KernelMessage.IIOPubMessage, at: string): void {
    const { cell, index } = request;
    const type = msg.header.msg_type;
    if (type === 'status') {
      const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
      const time = kernelTime(msg);
      if (state === 'busy') {
        request.busy = time;
        setExecutionTime(cell, 'iopub.status.busy', time?.iso ?? at);
        this.startClock(request);
      } else if (state === 'idle') {
        setExecutionTime(cell, 'iopub.status.idle', time?.iso ?? at);
        request.markIdle(time);
      }
    } else if (type === 'execute_input') {
      setExecutionTime(cell, 'iopub.execute_input', kernelTime(msg)?.iso ?? at);
      this.startClock(request);
      if (!request.started) {
        request.started = true;
        const { masker } = this.ctx;
        const firstLine = firstSourceLine(cell);
        this.ctx.emit({
          type: 'cell-start',
          runId: this.ctx.runId,
          at,
          index,
          position: this.ctx.positionOf.get(index) ?? 0,
          total: this.ctx.total,
          stage: this.ctx.stageOf[index] ?? null,
          firstLine: masker?.active === true ? masker.mask(firstLine) : firstLine,
        });
      }
    } else {
      this.ctx.collector.handle(index, cell, msg);
    }
  }

  /** The kernel started the cell: its clock (and its timeout) and its memory peak start now, once. */
  private startClock(request: CellRequest): void {
    if (request.startedAt !== null) {
      return;
    }
    request.startedAt = Date.now();
    request.kernel.memory?.cellStarted();
    const { cellTimeoutS, stopper } = this.ctx;
    if (cellTimeoutS !== undefined && cellTimeoutS > 0 && stopper.error === null) {
      request.timer = setTimeout(
        () => stopper.stop(new TimeoutError('cell', cellTimeoutS, request.index)),
        cellTimeoutS * 1000,
      );
    }
  }
}
