/**
 * How a run ends, decided in one place: the status an error ends a run in, the error details
 * and notebook-level `metadata.nbstage` recorded for it, the `run-end` event, and the one way
 * run listeners (sinks) are called. The executor uses it for the runs it executes; the CLI, the
 * remote path and the service use it for runs that never reached a kernel or ran elsewhere.
 */
import { hostname } from 'node:os';
import type { NbstageError } from '../errors';
import { CellExecutionError, KernelDiedError, TimeoutError } from '../errors';
import { cloneNotebook, type JSONObject, type JSONValue, type Notebook } from '../notebook/model';
import type { Masker } from '../secrets/mask';
import type { RunEndEvent, RunErrorInfo, RunEvent, RunEventListener, RunStatus } from './events';
import type { KernelLanguageInfo } from './kernel';

/** An error as it travels between processes: its stable code and its message. */
export interface ErrorLike {
  code: string;
  message: string;
}

/**
 * The status of each error code that does not end a run as plain `error`. A lost worker is
 * reported with the kernel-death code (its kernel died with it: exit 4, as the README's exit
 * codes say), so it ends `kernel_died` like a kernel that died under an embedded run.
 */
const STATUS_OF_CODE: Readonly<Record<string, RunStatus>> = {
  NBSTAGE_CELL_FAILED: 'failed',
  NBSTAGE_CELL_TIMEOUT: 'timeout',
  NBSTAGE_RUN_TIMEOUT: 'timeout',
  NBSTAGE_KERNEL_DIED: 'kernel_died',
  NBSTAGE_CANCELLED: 'cancelled',
  // Every cell ran: the run completed, its checks did not pass (exit 6 says so).
  NBSTAGE_CHECK_FAILED: 'completed',
};

/**
 * The status a run ends in when `error` ended it (a run that ended without one is `completed`).
 * Keyed on the error's code, so an error read back from another process maps the same way.
 */
export function statusFromError(error: { code: string }): RunStatus {
  return STATUS_OF_CODE[error.code] ?? 'error';
}

/** The cell an error names, if it names one. */
function cellOfError(error: NbstageError | ErrorLike): number | undefined {
  return error instanceof CellExecutionError ||
    error instanceof TimeoutError ||
    error instanceof KernelDiedError
    ? error.cellIndex
    : undefined;
}

/**
 * The error details a run records (masked): code and message, the cell the error names (else
 * `cellIndex`, the cell that was running), and a failed cell's ename and evalue.
 */
export function runErrorInfo(
  error: NbstageError | ErrorLike,
  options: { masker?: Masker | null; cellIndex?: number } = {},
): RunErrorInfo {
  const mask = (text: string): string =>
    options.masker?.active === true ? options.masker.mask(text) : text;
  const info: RunErrorInfo = { code: error.code, message: mask(error.message) };
  const cellIndex = cellOfError(error) ?? options.cellIndex;
  if (cellIndex !== undefined) {
    info.cell_index = cellIndex;
  }
  if (error instanceof CellExecutionError) {
    info.ename = error.ename;
    info.evalue = mask(error.evalue);
  }
  return info;
}

/**
 * Masks secrets in an error's message (and stack) in place, so that whoever prints or forwards
 * the error shows it masked; its class and code stay as they are.
 */
export function maskError(error: Error, masker: Masker): void {
  if (!masker.active) {
    return;
  }
  for (const key of ['message', 'stack'] as const) {
    const text = error[key];
    const masked = typeof text === 'string' ? masker.mask(text) : text;
    if (masked !== text) {
      // An own property: also where the class only has a getter (DOMException's message).
      Object.defineProperty(error, key, { value: masked, writable: true, configurable: true });
    }
  }
}

/** The `exception` of a run's `metadata.nbstage` (null when it ended without an error). */
export function exceptionOf(info: RunErrorInfo | undefined): JSONObject | null {
  return info === undefined
    ? null
    : {
        cell_index: info.cell_index ?? null,
        ename: info.ename ?? info.code,
        evalue: info.evalue ?? info.message,
      };
}

/** What {@link runMetadata} records about an executed run. */
export interface RunMetadataFields {
  runId: string;
  /** The kernel of the run's first cell (null when no cell ran). */
  kernel: { name: string; language: KernelLanguageInfo } | null;
  stages: string[];
  /** ISO times of the run's start and end, and its duration. */
  start: string;
  end: string;
  durationMs: number;
  status: RunStatus;
  error?: RunErrorInfo;
  metrics: Record<string, JSONValue>;
  /** Fields the caller adds (job, build, parameters, environment...). */
  extra?: JSONObject;
  masker?: Masker | null;
}

/**
 * The notebook-level `metadata.nbstage` of an executed run: what `notebook` already had, the
 * caller's fields, then the run's own (masked).
 */
export function runMetadata(notebook: Notebook, fields: RunMetadataFields): JSONObject {
  const language = fields.kernel?.language;
  const meta: JSONObject = {
    ...(notebook.metadata.nbstage ?? {}),
    ...(fields.extra ?? {}),
    run_id: fields.runId,
    kernel: fields.kernel?.name ?? null,
    stages: fields.stages,
    start: fields.start,
    end: fields.end,
    duration: fields.durationMs / 1000,
    status: fields.status,
    exception: exceptionOf(fields.error),
    metrics: fields.metrics,
    environment: {
      host: hostname(),
      ...(language ? { language: language.name, language_version: language.version ?? null } : {}),
      ...((fields.extra?.environment as JSONObject | undefined) ?? {}),
    },
  };
  return fields.masker?.active === true ? (fields.masker.maskValue(meta) as JSONObject) : meta;
}

/** The fields of a `run-end` event; `at` defaults to now. */
export interface RunEndFields {
  runId: string;
  status: RunStatus;
  durationMs: number;
  notebook: Notebook;
  error?: RunErrorInfo;
  at?: string;
}

/**
 * A `run-end` event: the one place they are made. Takes only the fields it names, so a
 * streamed run-end spread into it (with the final notebook) comes out as a clean event.
 */
export function runEndEvent(fields: RunEndFields): RunEndEvent {
  return {
    type: 'run-end',
    runId: fields.runId,
    at: fields.at ?? new Date().toISOString(),
    status: fields.status,
    durationMs: fields.durationMs,
    ...(fields.error === undefined ? {} : { error: fields.error }),
    notebook: fields.notebook,
  };
}

/**
 * Marks `notebook` (in place) as the record of a run that `error` ended before any cell ran: its
 * `metadata.nbstage` keeps what it had and gets the run id, the status and the exception (none,
 * and status `error`, when nothing says why).
 */
export function markUnstarted(notebook: Notebook, runId: string, error: ErrorLike | null): void {
  notebook.metadata.nbstage = {
    ...(notebook.metadata.nbstage ?? {}),
    run_id: runId === '' ? null : runId,
    status: error === null ? 'error' : statusFromError(error),
    exception: error === null ? null : exceptionOf(runErrorInfo(error)),
  };
}

/** A copy of `notebook`, marked by {@link markUnstarted}. */
export function unstartedNotebook(notebook: Notebook, runId: string, error: ErrorLike): Notebook {
  const nb = cloneNotebook(notebook);
  markUnstarted(nb, runId, error);
  return nb;
}

/**
 * The `run-end` of a run that `error` ended before it reached a kernel (no kernel could be had,
 * the run was cancelled first, the service lost it): the input notebook, marked as such.
 */
export function unstartedRunEnd(fields: {
  runId: string;
  notebook: Notebook;
  error: ErrorLike;
  durationMs?: number;
}): RunEndEvent {
  return runEndEvent({
    runId: fields.runId,
    status: statusFromError(fields.error),
    durationMs: fields.durationMs ?? 0,
    error: runErrorInfo(fields.error),
    notebook: unstartedNotebook(fields.notebook, fields.runId, fields.error),
  });
}

/**
 * The one way run listeners are called. {@link emit} hands an event to every listener at once,
 * in order, without waiting (a run never waits on its sinks between messages); what a listener
 * throws or rejects with goes to `onError`, never dropped. {@link settled} waits for every
 * listener promise so far.
 */
export class RunEventFanout {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly listeners: readonly RunEventListener[],
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Calls every listener with `event`. */
  emit(event: RunEvent): void {
    for (const listener of this.listeners) {
      let returned: void | Promise<void>;
      try {
        returned = listener(event);
      } catch (err) {
        this.report(err);
        continue;
      }
      if (returned instanceof Promise) {
        const settled: Promise<void> = returned.then(
          () => void this.pending.delete(settled),
          (err: unknown) => {
            this.pending.delete(settled);
            this.report(err);
          },
        );
        this.pending.add(settled);
      }
    }
  }

  /** Resolves once every listener promise returned so far has settled (it never rejects). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.all([...this.pending]);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError(err);
    } catch {
      // A reporter that fails has nowhere left to report to; the run goes on.
    }
  }
}

/**
 * Calls every listener with `event` and waits for them all; failures go to `onError`. For an
 * event outside an executed run (the run-end of a run that never started, or one that ran on
 * the service).
 */
export async function notifyListeners(
  listeners: readonly RunEventListener[],
  event: RunEvent,
  onError: (err: unknown) => void,
): Promise<void> {
  const fanout = new RunEventFanout(listeners, onError);
  fanout.emit(event);
  await fanout.settled();
}

/** The default `onError` of a run's listeners: a process warning, so no failure goes unseen. */
export function warnListenerError(err: unknown): void {
  process.emitWarning(
    `a run listener failed: ${err instanceof Error ? err.message : String(err)}`,
    'NbstageListenerWarning',
  );
}
