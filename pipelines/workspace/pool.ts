/**
 * Pacing of file work. Content I/O of large files runs a few operations at a time
 * ({@link mapLimit}); metadata calls (readdir, lstat, link, rename) and small files are cheaper
 * as synchronous calls than as a thread-pool round trip each (measured on a 2-CPU host: 6 µs
 * against 27 µs per `lstat`, 10,000 links in 94 ms against 409 ms), so the tree walks make them
 * synchronously, in slices: a {@link Yielder} gives the event loop a turn every few
 * milliseconds, so a service doing this keeps answering.
 */
import { performance } from 'node:perf_hooks';

/** How many file operations run at once unless a caller says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

/**
 * Files up to this size are read or copied with synchronous calls (a few hundred microseconds
 * at most); larger ones asynchronously, so that no single call holds the event loop long.
 */
export const SMALL_FILE_BYTES = 1024 * 1024;

/** The longest stretch of synchronous file work between two turns of the event loop. */
const SLICE_MS = 10;

/** Gives the event loop a turn when the current slice of synchronous work has run long enough. */
export class Yielder {
  private last = performance.now();

  /** Resolves at once within a slice, after a turn of the event loop (`setImmediate`) past it. */
  async tick(): Promise<void> {
    if (performance.now() - this.last < SLICE_MS) {
      return;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/**
 * `fn` over `items`, at most `limit` calls in flight, results in the order of `items`. The first
 * failure is thrown once the calls in flight have settled; no new call starts after it.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane);
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected !== undefined) {
    throw rejected.reason;
  }
  return results;
}
