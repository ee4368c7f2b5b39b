/**
 * The executor: runs the selected cells of a notebook on live kernels and owns the run's state.
 * Execute requests are pipelined (sent without waiting for replies; the kernel queues them and,
 * with stop_on_error, aborts the rest after an error). Per-cell and per-run timeouts interrupt
 * and then kill; kernel death, cancellation (AbortSignal) and sys.exit(0) end the run cleanly.
 * Everything that happens is emitted as run events; the executed notebook is always complete
 * enough to be written, whatever the outcome.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KernelMessage } from '@jupyterlab/services';
import type { NbstageError } from '../errors';
import {
  CancelledError,
  CellExecutionError,
  KernelDiedError,
  TimeoutError,
  asNbstageError,
} from '../errors';
import {
  cloneNotebook,
  firstSourceLine,
  hasTag,
  isEmptyCodeCell,
  splitLines,
  type CodeCell,
  type JSONObject,
  type JSONValue,
  type Notebook,
  type Output,
} from '../notebook/model';
import type { Masker } from '../secrets/mask';
import type { CellStatus, RunErrorInfo, RunEvent, RunEventListener, RunStatus } from './events';
import type { ExecutorKernel } from './kernel';
import { kernelSpanMs, kernelTime, type KernelTime } from './kernel-clock';
import type { OutputLimits } from './output-limits';
import { OutputCollector } from './outputs';

/** What the executor needs to run a notebook. */
export interface ExecuteOptions {
  /** The notebook to execute (already parameterized); it is not modified. */
  notebook: Notebook;
  /** Notebook indices of the code cells to run, in order. */
  cells: number[];
  /** The kernel that runs cell `index`. All cells on one kernel when it returns the same one. */
  kernelFor: (index: number) => ExecutorKernel;
  /** Name of the stage of each notebook cell (null for the preamble). */
  stageOf?: (string | null)[];
  /** Stage names this run covers (recorded in metadata). */
  stages?: string[];
  runId?: string;
  /** Keep going after a failing cell (cells still show their errors). */
  allowErrors?: boolean;
  /** Seconds one cell may run. */
  cellTimeoutS?: number;
  /** Seconds the whole run may take. */
  runTimeoutS?: number;
  /** Aborting cancels the run: interrupt, then shut the kernel down. */
  signal?: AbortSignal;
  /** Masks secrets in everything stored or emitted. */
  masker?: Masker | null;
  listeners?: RunEventListener[];
  /** Extra notebook-level `metadata.nbstage` fields (job, build, parameters, environment...). */
  metadata?: JSONObject;
  /** How long an interrupted cell gets to answer before the kernel is killed (ms, default 2000). */
  interruptGraceMs?: number;
  /** Called when a listener throws; default: ignored. */
  onListenerError?: (err: unknown) => void;
  /** How much output cells and the run keep (default: `DEFAULT_OUTPUT_LIMITS`). */
  outputLimits?: OutputLimits;
  /** Folder for the full output of cells cut by a limit (`cell-N.txt.gz`); none when unset. */
  fullOutputDir?: string | null;
}

/** The outcome of a run. The notebook is the executed one, masked, with metadata filled in. */
export interface ExecuteResult {
  runId: string;
  status: RunStatus;
  notebook: Notebook;
  error: NbstageError | null;
  durationMs: number;
  metrics: Record<string, JSONValue>;
  /** Whether the kernels are still usable (false after a timeout, cancel or death: they were killed). */
  kernelsUsable: boolean;
}

interface Pending {
  index: number;
  cell: CodeCell;
  kernel: ExecutorKernel;
  msgId: string;
  done: Promise<KernelMessage.IExecuteReplyMsg>;
  startedAt: number | null;
  /** The kernel's times of the cell's `busy` and `idle` (its duration is the span between). */
  busy: KernelTime | null;
  idle: KernelTime | null;
  /** Resolves when the cell's `idle` arrived. */
  idleSeen: Promise<void>;
  markIdle: () => void;
  started: boolean;
  reply: KernelMessage.IExecuteReplyMsg | null;
  timer?: NodeJS.Timeout;
  /**
   * Messages that arrived before the run got to this cell (the previous cell's end was still
   * being settled): replayed in order when it does, so the console never mixes two cells.
   */
  early: { msg: KernelMessage.IIOPubMessage; at: string }[];
}

function now(): string {
  return new Date().toISOString();
}

/** How long a cell whose reply came waits for its `idle` (the reply can overtake it). */
const IDLE_WAIT_MS = 1000;

/** The busy/idle fields of a new {@link Pending}. */
function idleTracking(): Pick<Pending, 'busy' | 'idle' | 'idleSeen' | 'markIdle'> {
  let markIdle = (): void => undefined;
  const idleSeen = new Promise<void>((resolve) => {
    markIdle = resolve;
  });
  return { busy: null, idle: null, idleSeen, markIdle };
}

function statusOf(err: NbstageError): RunStatus {
  if (err instanceof CellExecutionError) {
    return 'failed';
  }
  if (err instanceof TimeoutError) {
    return 'timeout';
  }
  if (err instanceof KernelDiedError) {
    return 'kernel_died';
  }
  if (err instanceof CancelledError) {
    return 'cancelled';
  }
  return 'error';
}

/** Text fields of outputs in nbformat's on-disk list-of-lines form. */
function normalizeOutput(output: Output): Output {
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

/** Leaves a code cell as one this run did not execute: no count, outputs or run timings. */
function clearRun(cell: CodeCell): void {
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

/** A one-shot deferred that settles the run early (timeout, death, cancel). */
class Stopper {
  error: NbstageError | null = null;
  readonly promise: Promise<never>;
  private rejectFn: (err: NbstageError) => void = () => undefined;
  constructor() {
    this.promise = new Promise<never>((_, reject) => {
      this.rejectFn = reject;
    });
    this.promise.catch(() => undefined);
  }
  stop(err: NbstageError): void {
    if (this.error === null) {
      this.error = err;
      this.rejectFn(err);
    }
  }
}

/** Runs the notebook; never throws for run failures (they are in the result). */
export async function executeNotebook(options: ExecuteOptions): Promise<ExecuteResult> {
  const runId = options.runId ?? randomUUID();
  const nb = cloneNotebook(options.notebook);
  const listeners = options.listeners ?? [];
  const pendingListeners: Promise<void>[] = [];
  const emit = (event: RunEvent): void => {
    for (const listener of listeners) {
      try {
        const r = listener(event);
        if (r instanceof Promise) {
          pendingListeners.push(r.catch((err) => options.onListenerError?.(err)));
        }
      } catch (err) {
        options.onListenerError?.(err);
      }
    }
  };
  const masker = options.masker ?? null;
  const collector = new OutputCollector(runId, emit, {
    masker,
    limits: options.outputLimits,
    fullOutputDir: options.fullOutputDir,
  });
  const stageOf = options.stageOf ?? [];
  const stopper = new Stopper();
  const start = Date.now();
  const startIso = now();
  const graceMs = options.interruptGraceMs ?? 2000;
  const cellStatus = new Map<number, { status: CellStatus; durationMs: number }>();
  let current: Pending | null = null;
  let exitedEarly = false;
  let killed = false;

  // The cells that run: code cells with something in them. An empty one is not sent (as in
  // nbclient): it has no execution count, no outputs and no run status, like a markdown cell.
  const runs = (index: number): boolean => {
    const cell = nb.cells[index];
    return cell?.cell_type === 'code' && !isEmptyCodeCell(cell);
  };
  for (const index of options.cells) {
    const cell = nb.cells[index];
    if (cell !== undefined && cell.cell_type === 'code' && !runs(index)) {
      clearRun(cell);
    }
  }
  const codeCells = options.cells.filter(runs);
  const kernels = new Set(codeCells.map((i) => options.kernelFor(i)));
  const firstKernel = codeCells.length > 0 ? options.kernelFor(codeCells[0]) : null;

  emit({
    type: 'run-start',
    runId,
    at: startIso,
    kernel: firstKernel?.name ?? '',
    language: firstKernel?.language.name ?? '',
    cells: codeCells,
    stages: options.stages ?? [],
    parameters: (options.metadata?.parameters as JSONObject | undefined) ?? {},
    notebook: options.notebook,
  });

  // Early endings: death of any kernel, timeouts, cancellation.
  const unsubscribe: (() => void)[] = [];
  for (const kernel of kernels) {
    unsubscribe.push(
      kernel.onDeath((reason) =>
        stopper.stop(
          new KernelDiedError(
            (reason === 'disconnected'
              ? `lost the connection to kernel ${kernel.name}`
              : reason === 'server-died'
                ? `the Jupyter server running kernel ${kernel.name} died`
                : `kernel ${kernel.name} died`) + (current ? ` in cell ${current.index}` : ''),
            current?.index,
          ),
        ),
      ),
    );
  }
  let runTimer: NodeJS.Timeout | undefined;
  if (options.runTimeoutS !== undefined && options.runTimeoutS > 0) {
    const seconds = options.runTimeoutS;
    runTimer = setTimeout(
      () => stopper.stop(new TimeoutError('run', seconds, current?.index)),
      seconds * 1000,
    );
  }
  const onAbort = (): void => stopper.stop(new CancelledError());
  if (options.signal?.aborted) {
    onAbort();
  }
  options.signal?.addEventListener('abort', onAbort);

  const sent: Pending[] = [];
  const startCellClock = (p: Pending): void => {
    if (p.startedAt !== null) {
      return;
    }
    p.startedAt = Date.now();
    const cellTimeout = options.cellTimeoutS;
    if (cellTimeout !== undefined && cellTimeout > 0 && stopper.error === null) {
      p.timer = setTimeout(
        () => stopper.stop(new TimeoutError('cell', cellTimeout, p.index)),
        cellTimeout * 1000,
      );
    }
  };

  const setExec = (cell: CodeCell, key: string, at: string = now()): void => {
    const execution = (cell.metadata.execution ??= {});
    execution[key] = at;
  };

  const finishCell = (
    p: Pending,
    status: CellStatus,
    error?: { ename: string; evalue: string; traceback: string[] },
  ): void => {
    // The kernel's busy -> idle span; the local clock only when the kernel never went idle
    // (timeout, death, cancel).
    const durationMs =
      kernelSpanMs(p.busy, p.idle) ?? (p.startedAt === null ? 0 : Date.now() - p.startedAt);
    const output = collector.endCell(p.index, p.cell);
    if (output !== null) {
      p.cell.metadata.nbstage = {
        ...(p.cell.metadata.nbstage ?? {}),
        output: output as unknown as JSONObject,
      };
    }
    cellStatus.set(p.index, { status, durationMs });
    emit({
      type: 'cell-end',
      runId,
      at: now(),
      index: p.index,
      status,
      durationMs,
      executionCount: p.cell.execution_count,
      ...(error === undefined ? {} : { error }),
    });
  };

  const positionOf = new Map(codeCells.map((index, position) => [index, position]));

  const handleIOPub = (pending: Pending, msg: KernelMessage.IIOPubMessage, at: string): void => {
    const { cell, index } = pending;
    const type = msg.header.msg_type;
    if (type === 'status') {
      const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
      const time = kernelTime(msg);
      if (state === 'busy') {
        pending.busy = time;
        setExec(cell, 'iopub.status.busy', time?.iso ?? at);
        startCellClock(pending);
      } else if (state === 'idle') {
        pending.idle = time;
        setExec(cell, 'iopub.status.idle', time?.iso ?? at);
        pending.markIdle();
      }
    } else if (type === 'execute_input') {
      setExec(cell, 'iopub.execute_input', kernelTime(msg)?.iso ?? at);
      startCellClock(pending);
      if (!pending.started) {
        pending.started = true;
        emit({
          type: 'cell-start',
          runId,
          at,
          index,
          position: positionOf.get(index) ?? 0,
          total: codeCells.length,
          stage: stageOf[index] ?? null,
          firstLine: masker?.active ? masker.mask(firstSourceLine(cell)) : firstSourceLine(cell),
        });
      }
    } else {
      collector.handle(index, cell, msg);
    }
  };

  const send = (index: number): Pending => {
    const cell = nb.cells[index] as CodeCell;
    cell.outputs = [];
    cell.execution_count = null;
    delete cell.metadata.execution;
    delete cell.metadata.nbstage?.output;
    collector.track(index, cell);
    const kernel = options.kernelFor(index);
    const stopOnError = !(options.allowErrors === true || hasTag(cell, 'raises-exception'));
    const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    const pending: Pending = {
      index,
      cell,
      kernel,
      msgId: '',
      done: Promise.resolve() as unknown as Promise<KernelMessage.IExecuteReplyMsg>,
      startedAt: null,
      ...idleTracking(),
      started: false,
      reply: null,
      early: [],
    };
    const handle = kernel.execute(
      source,
      { stopOnError },
      {
        onIOPub: (msg) => {
          if (stopper.error !== null && current !== pending) {
            return;
          }
          if (current !== pending && cellStatus.has(pending.index)) {
            // A finished cell's late message (rare): applied where it belongs.
            handleIOPub(pending, msg, now());
            return;
          }
          if (current !== pending) {
            // Timeouts count from when the kernel starts the cell, whatever the console shows.
            const type = msg.header.msg_type;
            if (type === 'execute_input' || type === 'status') {
              const state = (msg as KernelMessage.IStatusMsg).content.execution_state;
              if (type === 'execute_input' || state === 'busy') {
                startCellClock(pending);
              }
            }
            pending.early.push({ msg, at: now() });
            return;
          }
          handleIOPub(pending, msg, now());
        },
        onReply: (msg) => {
          setExec(cell, 'shell.execute_reply', kernelTime(msg)?.iso ?? now());
          pending.reply = msg;
          const count = (msg.content as { execution_count?: number | null }).execution_count;
          if (typeof count === 'number') {
            cell.execution_count = count;
            for (const o of cell.outputs) {
              if (o.output_type === 'execute_result') {
                o.execution_count = count;
              }
            }
          }
        },
      },
    );
    pending.msgId = handle.msgId;
    pending.done = handle.done;
    pending.done.catch(() => undefined);
    sent.push(pending);
    return pending;
  };

  /** Waits for a request's reply or an early stop; after a stop, gives the cell a grace period. */
  const awaitReply = async (p: Pending): Promise<KernelMessage.IExecuteReplyMsg> => {
    const reply = await Promise.race([p.done, stopper.promise]);
    // The reply can overtake the cell's `idle` by a tick; its time ends the cell's duration.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      p.idleSeen,
      stopper.promise.catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, IDLE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    return reply;
  };

  const killKernels = async (): Promise<void> => {
    killed = true;
    await Promise.all([...kernels].map((k) => k.shutdown()));
  };

  try {
    // Segments of consecutive cells on one kernel are pipelined; the next segment waits.
    let i = 0;
    const order = options.cells;
    outer: while (i < order.length) {
      const segment: number[] = [];
      const kernel = runs(order[i]) ? options.kernelFor(order[i]) : null;
      while (i < order.length) {
        const index = order[i];
        if (!runs(index)) {
          i++;
          continue;
        }
        if (options.kernelFor(index) !== kernel) {
          break;
        }
        segment.push(index);
        i++;
      }
      if (stopper.error !== null) {
        break;
      }
      const queue: (Pending | number)[] = segment.map((index) =>
        hasTag(nb.cells[index], 'skip-execution') ? index : send(index),
      );
      for (let q = 0; q < queue.length; q++) {
        const item = queue[q];
        if (typeof item === 'number') {
          const skipped: Pending = {
            index: item,
            cell: nb.cells[item] as CodeCell,
            kernel: options.kernelFor(item),
            msgId: '',
            done: Promise.reject(new Error('skipped')),
            startedAt: null,
            ...idleTracking(),
            started: false,
            reply: null,
            early: [],
          };
          skipped.done.catch(() => undefined);
          finishCell(skipped, 'skipped');
          continue;
        }
        current = item;
        for (const early of item.early.splice(0)) {
          handleIOPub(item, early.msg, early.at);
        }
        const reply = await awaitReply(item);
        clearTimeout(item.timer);
        const content = reply.content as {
          status: 'ok' | 'error' | 'aborted';
          ename?: string;
          evalue?: string;
          traceback?: string[];
        };
        if (content.status === 'ok') {
          finishCell(item, 'ok');
          continue;
        }
        if (content.status === 'aborted') {
          finishCell(item, 'aborted');
          continue;
        }
        const ename = content.ename ?? 'Error';
        const evalue = masker?.active ? masker.mask(content.evalue ?? '') : (content.evalue ?? '');
        const traceback = (content.traceback ?? []).map((l) =>
          masker?.active ? masker.mask(l) : l,
        );
        if (ename === 'SystemExit' && ['0', '', 'None', 'False'].includes(evalue.trim())) {
          // sys.exit(0): the run ends here, successfully; the exit is not an error output.
          item.cell.outputs = item.cell.outputs.filter(
            (o) => !(o.output_type === 'error' && o.ename === 'SystemExit'),
          );
          finishCell(item, 'ok');
          exitedEarly = true;
          break outer;
        }
        if (hasTag(item.cell, 'raises-exception')) {
          finishCell(item, 'ok');
          continue;
        }
        finishCell(item, 'error', { ename, evalue, traceback });
        if (options.allowErrors === true) {
          continue;
        }
        stopper.stop(new CellExecutionError(item.index, ename, evalue, traceback));
        break outer;
      }
    }
  } catch (err) {
    stopper.stop(asNbstageError(err));
  } finally {
    clearTimeout(runTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }

  let error = stopper.error;
  if (error instanceof KernelDiedError && current !== null) {
    // A kernel killed outright loses the messages it had not sent yet (a finished cell's last
    // `idle`, say). A cell whose reply arrived is done; the death belongs to the first cell after
    // it that has no reply.
    const from = sent.indexOf(current);
    // A cell the kernel was seen starting means every cell before it had finished.
    let lastStarted = from;
    for (let k = from; k >= 0 && k < sent.length; k++) {
      if (sent[k].startedAt !== null) {
        lastStarted = k;
      }
    }
    let i = from;
    while (i >= 0 && i < sent.length && (i < lastStarted || sent[i].reply !== null)) {
      const done = sent[i];
      if (!cellStatus.has(done.index)) {
        const status = (done.reply?.content as { status?: string } | undefined)?.status;
        const failed =
          status === 'error' ||
          (status === undefined && done.cell.outputs.some((o) => o.output_type === 'error'));
        finishCell(done, status === 'aborted' ? 'aborted' : failed ? 'error' : 'ok');
      }
      i++;
    }
    const victim = i >= 0 && i < sent.length ? sent[i] : current;
    if (victim !== current) {
      current = victim;
      error = new KernelDiedError(
        error.message.replace(/ in cell \d+$/, '') + ` in cell ${victim.index}`,
        victim.index,
      );
    }
  }
  if (error !== null && !(error instanceof CellExecutionError) && current !== null) {
    // Timeout or cancel: interrupt, give the cell a moment to show its KeyboardInterrupt, kill.
    const p: Pending = current;
    if (!(error instanceof KernelDiedError)) {
      try {
        await p.kernel.interrupt();
        await Promise.race([
          p.done.catch(() => undefined),
          new Promise((r) => setTimeout(r, graceMs)),
        ]);
      } catch {
        // The kernel will be killed below regardless.
      }
    }
    if (!cellStatus.has(p.index)) {
      const status: CellStatus =
        error instanceof TimeoutError
          ? 'timeout'
          : error instanceof KernelDiedError
            ? 'kernel_died'
            : 'cancelled';
      finishCell(p, status);
    }
    await killKernels();
  } else if (error !== null && !(error instanceof CellExecutionError)) {
    await killKernels();
  } else if (exitedEarly) {
    // Requests queued behind sys.exit(0) were aborted by the kernel (or may still be running).
  }
  for (const unsub of unsubscribe) {
    unsub();
  }
  for (const p of sent) {
    clearTimeout(p.timer);
  }
  await collector.close();

  // Cells that were queued but never finished: aborted by the failure before them.
  if (error !== null) {
    for (const index of codeCells) {
      if (!cellStatus.has(index)) {
        cellStatus.set(index, { status: 'aborted', durationMs: 0 });
        emit({
          type: 'cell-end',
          runId,
          at: now(),
          index,
          status: 'aborted',
          durationMs: 0,
          executionCount: null,
        });
      }
    }
  }

  // Metadata: per cell, then the notebook.
  const durationMs = Date.now() - start;
  for (const [index, info] of cellStatus) {
    const cell = nb.cells[index] as CodeCell;
    cell.outputs = cell.outputs.map(normalizeOutput);
    cell.metadata.nbstage = {
      ...(cell.metadata.nbstage ?? {}),
      status: info.status,
      duration_ms: info.durationMs,
      stage: stageOf[index] ?? null,
    };
  }
  const metrics: Record<string, JSONValue> = {};
  for (const m of collector.metrics) {
    metrics[m.name] = m.value;
  }
  const status: RunStatus = error === null ? 'completed' : statusOf(error);
  let errorInfo: RunErrorInfo | undefined;
  if (error !== null) {
    errorInfo = {
      code: error.code,
      message: masker?.active ? masker.mask(error.message) : error.message,
    };
    const cellIndex =
      error instanceof CellExecutionError
        ? error.cellIndex
        : error instanceof TimeoutError || error instanceof KernelDiedError
          ? error.cellIndex
          : current?.index;
    if (cellIndex !== undefined) {
      errorInfo.cell_index = cellIndex;
    }
    if (error instanceof CellExecutionError) {
      errorInfo.ename = error.ename;
      errorInfo.evalue = masker?.active ? masker.mask(error.evalue) : error.evalue;
    }
  }
  const exception: JSONObject | null =
    errorInfo === undefined
      ? null
      : {
          cell_index: errorInfo.cell_index ?? null,
          ename: errorInfo.ename ?? error?.code ?? 'Error',
          evalue: errorInfo.evalue ?? errorInfo.message,
        };
  const language = firstKernel?.language;
  nb.metadata.nbstage = {
    ...(nb.metadata.nbstage ?? {}),
    ...(options.metadata ?? {}),
    run_id: runId,
    kernel: firstKernel?.name ?? null,
    stages: options.stages ?? [],
    start: startIso,
    end: now(),
    duration: durationMs / 1000,
    status,
    exception,
    metrics,
    environment: {
      host: hostname(),
      ...(language ? { language: language.name, language_version: language.version ?? null } : {}),
      ...((options.metadata?.environment as JSONObject | undefined) ?? {}),
    },
  };
  if (masker?.active) {
    nb.metadata.nbstage = masker.maskValue(nb.metadata.nbstage);
  }

  emit({
    type: 'run-end',
    runId,
    at: now(),
    status,
    durationMs,
    ...(errorInfo === undefined ? {} : { error: errorInfo }),
    notebook: nb,
  });
  await Promise.all(pendingListeners);
  return {
    runId,
    status,
    notebook: nb,
    error,
    durationMs,
    metrics,
    kernelsUsable: !killed,
  };
}
