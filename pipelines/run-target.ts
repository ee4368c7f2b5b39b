/**
 * Where a loaded run executes: on kernels this process starts (the local target, in kernels/)
 * or on an nbstage service (the remote target, in client/). `nbstage run` is the same around
 * either: flags -> spec -> target -> sinks -> summary.
 */
import type { RunEventListener } from './executor/events';
import type { LoadedRun, RunResult } from './runner';

/** Runs loaded notebooks somewhere and streams their events back. */
export interface RunTarget {
  /**
   * Executes `run`, sending its events to `listeners` (the last one a `run-end` with the
   * executed notebook), and resolves to the finished run. Rejects only when the run never
   * reached a kernel (bad input, no kernel, the service unreachable); `signal` cancels it.
   */
  run(run: LoadedRun, listeners: RunEventListener[], signal: AbortSignal): Promise<RunResult>;
  /** Lets go of what the target holds (a Jupyter server it started). Idempotent. */
  close(): Promise<void>;
}
