/**
 * The executor: runs the selected cells of a notebook on live kernels and owns the run's state.
 * Its steps have names, as in nbclient's `async_execute`: begin, send a segment of cells,
 * await each cell of it, attribute a death, stop the kernels, finalize. Execute requests are
 * pipelined (sent without waiting for replies; the kernel queues them and, with stop_on_error,
 * aborts the rest after an error). Per-cell and per-run timeouts interrupt and then kill; kernel
 * death, cancellation (AbortSignal) and sys.exit(0) end the run cleanly. Everything that happens
 * is emitted as run events; the executed notebook is always complete enough to be written.
 * Secrets are masked in all of it: the run's notebook is masked from the start (sources, tags,
 * metadata, the outputs it came with), every output as it arrives, errors and metrics. What the
 * kernel runs and what the tags do are read from the caller's notebook, never from masked text.
 */
import { randomUUID } from 'node:crypto';
import type { NbstageError } from '../errors';
import {
  CellExecutionError,
  CheckFailedError,
  KernelDiedError,
  TimeoutError,
  asNbstageError,
} from '../errors';
import {
  cloneNotebook,
  hasTag,
  isEmptyCodeCell,
  joinSource,
  type CodeCell,
  type JSONObject,
  type JSONValue,
  type Notebook,
} from '../notebook/model';
import type { Masker } from '../secrets/mask';
import { CellMessages } from './cell-messages';
import { forgetEarlierRuns, resetForRun, setExecutionCount, setExecutionTime } from './cell-record';
import { CellRequest, type ReplyContent } from './cell-request';
import { CellResults, type CellError } from './cell-results';
import { blameDeath, deathError, statusBeforeDeath } from './death';
import { EarlyStop } from './early-stop';
import type { CellStatus, RunChecks, RunEventListener, RunStatus } from './events';
import type { ExecutorKernel } from './kernel';
import { kernelTime } from './kernel-clock';
import { PEAK_REQUEST, peakOfReply } from './kernel-peak';
import {
  RunEventFanout,
  maskError,
  runEndEvent,
  runErrorInfo,
  runMetadata,
  statusFromError,
  warnListenerError,
} from './outcome';
import { formatLimit, type OutputLimits } from './output-limits';
import { OutputCollector } from './outputs';

/** What the executor needs to run a notebook. */
export interface ExecuteNotebookOptions {
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
  /** The run's id (default: a new UUID). */
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
  /** The run's sinks: every event goes to each of them, in order. */
  listeners?: RunEventListener[];
  /** Extra notebook-level `metadata.nbstage` fields (job, build, parameters, environment...). */
  metadata?: JSONObject;
  /** How long an interrupted cell gets to answer before the kernel is killed (ms, default 2000). */
  interruptGraceMs?: number;
  /** Called when a listener throws or rejects; default: a process warning. */
  onListenerError?: (err: unknown) => void;
  /** How much output cells and the run keep (default: `DEFAULT_OUTPUT_LIMITS`). */
  outputLimits?: OutputLimits;
  /** Folder for the full output of cells cut by a limit (`cell-N.txt.gz`); none when unset. */
  fullOutputDir?: string | null;
  /** The run's checks (a baseline, gates): see {@link RunChecks}. */
  checks?: RunChecks;
  /** Kernels that measure each cell's memory peak themselves: asked for it (`kernel-peak.ts`). */
  measuringKernels?: ReadonlySet<ExecutorKernel>;
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

/** How long a cell whose reply came waits for its `idle` (the reply can overtake it). */
const IDLE_WAIT_MS = 1000;

/** Whether a `SystemExit` with this value ends the run successfully (`sys.exit(0)`). */
const CLEAN_EXIT = new Set(['0', '', 'None', 'False']);

function now(): string {
  return new Date().toISOString();
}

/** A timer as a promise, and a way to stop waiting for it. */
function delay(ms: number): { elapsed: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { elapsed, cancel: () => clearTimeout(timer) };
}

/** Runs of consecutive cells on one kernel: pipelined within, one after another across. */
function segmentsOf(cells: number[], kernelFor: (index: number) => ExecutorKernel): number[][] {
  const segments: number[][] = [];
  let last: ExecutorKernel | null = null;
  for (const index of cells) {
    const kernel = kernelFor(index);
    if (kernel !== last || segments.length === 0) {
      segments.push([]);
      last = kernel;
    }
    segments[segments.length - 1].push(index);
  }
  return segments;
}

/** One run of a notebook. Use it once: {@link run} resolves with the result. */
export class NotebookExecutor {
  private readonly runId: string;
  /** The caller's notebook: what the kernel runs and what the tags say. */
  private readonly input: Notebook;
  /** The run's notebook, masked from the start: what is emitted, stored and returned. */
  private readonly nb: Notebook;
  /** The masked notebook as it was before the run (what run-start carries). */
  private readonly startNotebook: Notebook;
  /** The stage of each cell, masked. */
  private readonly stageOf: (string | null)[];
  private readonly masker: Masker | null;
  private readonly fanout: RunEventFanout;
  private readonly collector: OutputCollector;
  private readonly stopper = new EarlyStop();
  private readonly messages: CellMessages;
  private readonly results: CellResults;
  /** The code cells that run: those with something in them (an empty one is never sent). */
  private readonly codeCells: number[];
  private readonly positionOf: Map<number, number>;
  private readonly kernels: Set<ExecutorKernel>;
  private readonly firstKernel: ExecutorKernel | null;
  private readonly sent: CellRequest[] = [];
  /** The cell the run is waiting on. */
  private current: CellRequest | null = null;
  private killed = false;
  private readonly start = Date.now();
  private readonly startIso = now();

  constructor(private readonly options: ExecuteNotebookOptions) {
    this.runId = options.runId ?? randomUUID();
    this.masker = options.masker ?? null;
    const masker = this.masker?.active === true ? this.masker : null;
    this.input = options.notebook;
    this.startNotebook = masker === null ? options.notebook : masker.maskNotebook(options.notebook);
    this.nb = cloneNotebook(this.startNotebook);
    this.stageOf = (options.stageOf ?? []).map((s) => (s === null ? s : this.mask(s)));
    this.fanout = new RunEventFanout(
      options.listeners ?? [],
      options.onListenerError ?? warnListenerError,
    );
    this.collector = new OutputCollector(this.runId, (e) => this.fanout.emit(e), {
      masker: this.masker,
      limits: options.outputLimits,
      fullOutputDir: options.fullOutputDir,
    });
    this.codeCells = options.cells.filter((index) => {
      const cell = this.input.cells[index];
      return cell?.cell_type === 'code' && !isEmptyCodeCell(cell);
    });
    this.positionOf = new Map(this.codeCells.map((index, position) => [index, position]));
    this.kernels = new Set(this.codeCells.map((i) => options.kernelFor(i)));
    this.firstKernel = this.codeCells.length > 0 ? options.kernelFor(this.codeCells[0]) : null;
    const emit = this.fanout.emit.bind(this.fanout);
    this.results = new CellResults(this.runId, this.collector, emit);
    this.messages = new CellMessages({
      runId: this.runId,
      collector: this.collector,
      emit,
      masker: this.masker,
      positionOf: this.positionOf,
      total: this.codeCells.length,
      stageOf: this.stageOf,
      cellTimeoutS: options.cellTimeoutS,
      stopper: this.stopper,
      current: () => this.current,
      isFinished: (index) => this.results.has(index),
    });
  }

  /** Runs the notebook; never throws for run failures (they are in the result). */
  async run(): Promise<ExecuteResult> {
    const unwatch = this.begin();
    try {
      for (const segment of segmentsOf(this.codeCells, this.options.kernelFor)) {
        if (this.stopper.error !== null || !(await this.runSegment(segment))) {
          break;
        }
      }
    } catch (err) {
      this.stopper.stop(asNbstageError(err));
    } finally {
      unwatch();
    }
    let error = this.stopper.error;
    if (error instanceof KernelDiedError && this.current !== null) {
      error = this.attributeDeath(error, this.current);
    }
    if (error !== null && !(error instanceof CellExecutionError)) {
      await this.stop(error);
    }
    return this.finalize(error);
  }

  /**
   * Clears the cells that will not be sent, emits run-start and watches for early ends (returns
   * what stops watching).
   */
  private begin(): () => void {
    const { options } = this;
    forgetEarlierRuns(this.nb, options.cells, (index) => this.positionOf.has(index));
    this.fanout.emit({
      type: 'run-start',
      runId: this.runId,
      at: this.startIso,
      kernel: this.firstKernel?.name ?? '',
      language: this.firstKernel?.language.name ?? '',
      cells: this.codeCells,
      stages: (options.stages ?? []).map((stage) => this.mask(stage)),
      parameters: this.maskValue((options.metadata?.parameters as JSONObject | undefined) ?? {}),
      notebook: this.startNotebook,
    });
    return this.stopper.watch({
      kernels: this.kernels,
      runTimeoutS: options.runTimeoutS,
      signal: options.signal,
      currentIndex: () => this.current?.index,
    });
  }

  /** Sends a segment's cells at once (skip-execution ones are not sent), then awaits each. */
  private async runSegment(segment: number[]): Promise<boolean> {
    const queue = segment.map((index) =>
      hasTag(this.input.cells[index], 'skip-execution') ? index : this.send(index),
    );
    for (const item of queue) {
      if (typeof item === 'number') {
        this.results.end(item, this.nb.cells[item] as CodeCell, 'skipped', 0);
      } else if (!(await this.awaitCell(item))) {
        return false;
      }
    }
    return true;
  }

  /** Sends one cell's execute request; does not wait for it. */
  private send(index: number): CellRequest {
    const cell = this.nb.cells[index] as CodeCell;
    const input = this.input.cells[index];
    resetForRun(cell);
    this.collector.track(index, cell);
    const request = new CellRequest(index, cell, this.options.kernelFor(index));
    const stopOnError = !(this.options.allowErrors === true || hasTag(input, 'raises-exception'));
    const source = joinSource(input.source);
    const measured = this.options.measuringKernels?.has(request.kernel) === true;
    const handle = request.kernel.execute(
      source,
      { stopOnError, ...(measured ? { userExpressions: PEAK_REQUEST } : {}) },
      {
        onIOPub: (msg) => this.messages.route(request, msg),
        onReply: (msg) => {
          setExecutionTime(cell, 'shell.execute_reply', kernelTime(msg)?.iso ?? now());
          request.reply = msg;
          const count = (msg.content as { execution_count?: number | null }).execution_count;
          if (typeof count === 'number') {
            setExecutionCount(cell, count);
          }
        },
      },
    );
    request.attach(handle);
    this.sent.push(request);
    return request;
  }

  /**
   * Waits for a request's reply (throws when the run is stopped first) and settles its cell.
   * Returns whether the run goes on.
   */
  private async awaitCell(request: CellRequest): Promise<boolean> {
    this.current = request;
    this.messages.replayEarly(request);
    const reply = await Promise.race([request.done, this.stopper.promise]);
    // The reply can overtake the cell's `idle` by a tick; its time ends the cell's duration.
    const wait = delay(IDLE_WAIT_MS);
    await Promise.race([
      request.idleSeen,
      this.stopper.promise.catch(() => undefined),
      wait.elapsed,
    ]);
    wait.cancel();
    clearTimeout(request.timer);
    const { cell, index } = request;
    const content = reply.content as ReplyContent;
    if (content.status !== 'error') {
      this.finishRequest(request, content.status === 'ok' ? 'ok' : 'aborted');
      return true;
    }
    const ename = this.mask(content.ename ?? 'Error');
    const evalue = this.mask(content.evalue ?? '');
    const traceback = (content.traceback ?? []).map((line) => this.mask(line));
    if (ename === 'SystemExit' && CLEAN_EXIT.has(evalue.trim())) {
      // sys.exit(0): the run ends here, successfully; the exit is not an error output. The
      // requests queued behind it were aborted by the kernel (or may still be running).
      cell.outputs = cell.outputs.filter(
        (o) => !(o.output_type === 'error' && o.ename === 'SystemExit'),
      );
      this.finishRequest(request, 'ok');
      return false;
    }
    if (hasTag(this.input.cells[index], 'raises-exception')) {
      this.finishRequest(request, 'ok');
      return true;
    }
    this.finishRequest(request, 'error', { ename, evalue, traceback });
    if (this.options.allowErrors === true) {
      return true;
    }
    const limit = request.kernel.memory?.limitBytes ?? null;
    const hint =
      ename === 'MemoryError' && limit !== null
        ? `the kernel's memory is limited to ${formatLimit(limit)} by --memory`
        : undefined;
    this.stopper.stop(new CellExecutionError(index, ename, evalue, traceback, hint));
    return false;
  }

  /**
   * Blames a death on the cell it killed (see {@link blameDeath}): the cells before it that had
   * finished get their status, and the error names the victim.
   */
  private attributeDeath(error: KernelDiedError, current: CellRequest): KernelDiedError {
    const { finished, victim } = blameDeath(this.sent, current);
    for (const done of finished) {
      if (!this.results.has(done.index)) {
        this.finishRequest(done, statusBeforeDeath(done));
      }
    }
    this.current = victim;
    const { death } = this.stopper;
    if (victim.index === error.cellIndex || death === null) {
      return error;
    }
    return deathError(death.kernel, death.reason, victim.index, death.facts);
  }

  /**
   * Ends a run stopped by a timeout, a cancel or a death: interrupts the cell it was waiting on
   * (not a dead kernel), gives it a moment to show its KeyboardInterrupt, then kills the kernels.
   */
  private async stop(error: NbstageError): Promise<void> {
    const request = this.current;
    if (request !== null) {
      if (!(error instanceof KernelDiedError)) {
        const grace = delay(this.options.interruptGraceMs ?? 2000);
        try {
          await request.kernel.interrupt();
          await Promise.race([request.done.catch(() => undefined), grace.elapsed]);
        } catch {
          // The kernel is killed below regardless.
        } finally {
          grace.cancel();
        }
      }
      if (!this.results.has(request.index)) {
        const status: CellStatus =
          error instanceof TimeoutError
            ? 'timeout'
            : error instanceof KernelDiedError
              ? 'kernel_died'
              : 'cancelled';
        this.finishRequest(request, status);
      }
    }
    this.killed = true;
    await Promise.all([...this.kernels].map((k) => k.shutdown()));
  }

  /** `text` with secrets masked. */
  private mask(text: string): string {
    return this.masker?.active === true ? this.masker.mask(text) : text;
  }

  /** A copy of `value` with secrets masked. */
  private maskValue<T extends JSONValue>(value: T): T {
    return this.masker?.active === true ? this.masker.maskValue(value) : value;
  }

  /** Ends a sent cell with `status`. */
  private finishRequest(request: CellRequest, status: CellStatus, error?: CellError): void {
    const sampled =
      request.startedAt === null ? null : (request.kernel.memory?.cellEnded() ?? null);
    const peak = this.collector.peakOf(request.index) ?? peakOfReply(request.reply) ?? sampled;
    const check = this.options.checks?.cell(this.nb, request.index) ?? undefined;
    this.results.end(request.index, request.cell, status, request.durationMs(), error, check, peak);
  }

  /**
   * Settles the run: the cells that never ran are aborted, every cell and the notebook get their
   * metadata, run-end is emitted and the listeners are awaited.
   */
  private async finalize(error: NbstageError | null): Promise<ExecuteResult> {
    for (const request of this.sent) {
      clearTimeout(request.timer);
    }
    await this.collector.close();
    if (error !== null) {
      // Cells that were queued but never finished: aborted by the failure before them.
      this.results.abortRest(this.codeCells);
    }
    const durationMs = Date.now() - this.start;
    this.results.record(this.nb, this.stageOf);
    const metrics: Record<string, JSONValue> = {};
    for (const m of this.collector.metrics) {
      metrics[m.name] = m.value;
    }
    const checked = this.options.checks?.run(this.nb, metrics) ?? null;
    let errorCell = this.current?.index;
    if (error === null && checked !== null && checked.failures.length > 0) {
      const [first] = checked.failures;
      const more = checked.failures.length > 1 ? ` (and ${checked.failures.length - 1} more)` : '';
      error = new CheckFailedError(`check failed: ${first}${more}`);
      errorCell = checked.cell; // the first cell that differs; none when only gates failed
    }
    const status: RunStatus = error === null ? 'completed' : statusFromError(error);
    if (error !== null && this.masker !== null) {
      // Whoever prints or forwards the run's error (the CLI, a worker's result) shows it masked.
      maskError(error, this.masker);
    }
    const errorInfo = error === null ? undefined : runErrorInfo(error, { cellIndex: errorCell });
    this.nb.metadata.nbstage = runMetadata(this.nb, {
      runId: this.runId,
      kernel: this.firstKernel,
      stages: this.options.stages ?? [],
      start: this.startIso,
      end: now(),
      durationMs,
      status,
      error: errorInfo,
      metrics,
      extra:
        checked === null
          ? this.options.metadata
          : { ...this.options.metadata, checks: checked.record },
      masker: this.masker,
    });
    this.fanout.emit(
      runEndEvent({ runId: this.runId, status, durationMs, error: errorInfo, notebook: this.nb }),
    );
    await this.fanout.settled();
    return {
      runId: this.runId,
      status,
      notebook: this.nb,
      error,
      durationMs,
      metrics,
      kernelsUsable: !this.killed,
    };
  }
}

/** Runs the notebook; never throws for run failures (they are in the result). */
export function executeNotebook(options: ExecuteNotebookOptions): Promise<ExecuteResult> {
  return new NotebookExecutor(options).run();
}
