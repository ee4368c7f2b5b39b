/**
 * One cell's execute request while a run is in flight: its kernel and message id, its reply,
 * the kernel's busy and idle times, its timeout timer, and the messages that came before the
 * run got to it.
 */
import type { KernelMessage } from '@jupyterlab/services';
import type { CodeCell } from '../notebook/model';
import type { ExecuteHandle, ExecutorKernel } from './kernel';
import { kernelSpanMs, type KernelTime } from './kernel-clock';

/** The content of an execute reply, as far as the executor reads it. */
export interface ReplyContent {
  status: 'ok' | 'error' | 'aborted';
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** A sent execute request of one cell and what is known of it so far. */
export class CellRequest {
  /** The request's message id, and its reply once the kernel went idle. */
  msgId = '';
  done: Promise<KernelMessage.IExecuteReplyMsg> = new Promise(() => undefined);
  /** Local time the kernel was seen starting the cell (its timeout counts from here). */
  startedAt: number | null = null;
  /** The kernel's times of the cell's `busy` and `idle` (its duration is the span between). */
  busy: KernelTime | null = null;
  idle: KernelTime | null = null;
  /** Resolves when the cell's `idle` arrived. */
  readonly idleSeen: Promise<void>;
  /** Whether its `cell-start` was emitted. */
  started = false;
  reply: KernelMessage.IExecuteReplyMsg | null = null;
  timer?: NodeJS.Timeout;
  /**
   * Messages that arrived before the run got to this cell (the previous cell's end was still
   * being settled): replayed in order when it does, so the console never mixes two cells.
   */
  readonly early: { msg: KernelMessage.IIOPubMessage; at: string }[] = [];
  private markIdleFn: () => void = () => undefined;

  constructor(
    readonly index: number,
    readonly cell: CodeCell,
    readonly kernel: ExecutorKernel,
  ) {
    this.idleSeen = new Promise<void>((resolve) => {
      this.markIdleFn = resolve;
    });
  }

  /** Records the request the kernel was sent. */
  attach(handle: ExecuteHandle): void {
    this.msgId = handle.msgId;
    this.done = handle.done;
    this.done.catch(() => undefined);
  }

  /** The cell's `idle` came at `time`. */
  markIdle(time: KernelTime | null): void {
    this.idle = time;
    this.markIdleFn();
  }

  /** The status of its reply, when one came. */
  get replyStatus(): ReplyContent['status'] | undefined {
    return (this.reply?.content as ReplyContent | undefined)?.status;
  }

  /**
   * The kernel's busy -> idle span; the local clock only when the kernel never went idle
   * (timeout, death, cancel).
   */
  durationMs(): number {
    return (
      kernelSpanMs(this.busy, this.idle) ??
      (this.startedAt === null ? 0 : Date.now() - this.startedAt)
    );
  }
}
