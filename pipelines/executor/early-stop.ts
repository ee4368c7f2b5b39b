/**
 * The one-shot signal that ends a run before its last cell, and what raises it: the first of a
 * kernel death, the run timeout, a cancel (AbortSignal), a cell timeout or a failing cell wins,
 * and everything waiting on the run sees it.
 */
import type { NbstageError } from '../errors';
import { CancelledError, TimeoutError } from '../errors';
import { deathError, deathFacts, type DeathFacts } from './death';
import type { DeathReason, ExecutorKernel } from './kernel';

/** What {@link EarlyStop.watch} watches. */
export interface StopSources {
  kernels: Iterable<ExecutorKernel>;
  /** Seconds the whole run may take. */
  runTimeoutS?: number;
  signal?: AbortSignal;
  /** The cell the run waits on, named in the error. */
  currentIndex: () => number | undefined;
}

/** A one-shot deferred that settles the run early. */
export class EarlyStop {
  /** The error that stopped the run, or null while it goes on. */
  error: NbstageError | null = null;
  /** The first kernel that died under the run, and why. */
  death: { kernel: string; reason: DeathReason; facts: DeathFacts } | null = null;
  /** Rejects with that error (never resolves); safe to leave unawaited. */
  readonly promise: Promise<never>;
  private rejectFn: (err: NbstageError) => void = () => undefined;

  constructor() {
    this.promise = new Promise<never>((_, reject) => {
      this.rejectFn = reject;
    });
    this.promise.catch(() => undefined);
  }

  /** Stops the run with `err`, unless it was stopped already. */
  stop(err: NbstageError): void {
    if (this.error === null) {
      this.error = err;
      this.rejectFn(err);
    }
  }

  /**
   * Stops the run when a kernel dies (at once for one that is dead), when the run timeout
   * passes or when the signal is aborted. Returns what stops watching.
   */
  watch(sources: StopSources): () => void {
    const cleanups: (() => void)[] = [];
    for (const kernel of sources.kernels) {
      cleanups.push(
        kernel.onDeath((reason) => {
          this.death ??= { kernel: kernel.name, reason, facts: deathFacts(kernel) };
          this.stop(deathError(kernel.name, reason, sources.currentIndex(), deathFacts(kernel)));
        }),
      );
    }
    const seconds = sources.runTimeoutS;
    if (seconds !== undefined && seconds > 0) {
      const timer = setTimeout(
        () => this.stop(new TimeoutError('run', seconds, sources.currentIndex())),
        seconds * 1000,
      );
      cleanups.push(() => clearTimeout(timer));
    }
    const { signal } = sources;
    if (signal !== undefined) {
      const onAbort = (): void => this.stop(new CancelledError());
      if (signal.aborted) {
        onAbort();
      }
      signal.addEventListener('abort', onAbort);
      cleanups.push(() => signal.removeEventListener('abort', onAbort));
    }
    return () => {
      for (const cleanup of cleanups.splice(0)) {
        cleanup();
      }
    };
  }
}
