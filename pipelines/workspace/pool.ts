/**
 * Bounded concurrency for file work (hashing, copying, stat calls): a few operations at a time,
 * so that a tree of 100,000 files neither runs them one by one nor opens them all at once.
 */

/** How many file operations run at once unless a caller says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

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
