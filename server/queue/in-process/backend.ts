/**
 * The in-process queue backend: plain TypeScript, no Redis, for `nbstage serve` without `--redis`
 * and for tests. One hub per backend (hub.ts) holds the jobs, the workers and the session pins;
 * the queue (in-process-queue.ts) is a view on it, the workers (in-process-worker.ts) run what it
 * hands them. Same semantics as the BullMQ backend; the contract suite checks both.
 */
import type { BackendCapabilities, QueueBackend } from '../types';
import { Hub } from './hub';
import { InProcessQueue } from './in-process-queue';

/** Options of {@link inProcessBackend}. */
export interface InProcessBackendOptions {
  /**
   * Finished jobs kept for `get` (oldest forgotten first); default 10 000. Only the newest 100
   * keep their results.
   */
  maxFinishedJobs?: number;
}

/** Everything lives and ends with this process. */
const IN_PROCESS_CAPABILITIES: BackendCapabilities = {
  name: 'in-process',
  durable: false,
  remoteWorkers: false,
  sharedSecretKey: false,
};

/** A backend whose queue and workers live in this process. */
export function inProcessBackend(options: InProcessBackendOptions = {}): QueueBackend {
  const hub = new Hub(options.maxFinishedJobs ?? 10_000);
  return {
    capabilities: IN_PROCESS_CAPABILITIES,
    queue: () => new InProcessQueue(hub),
    worker: (workerOptions) => hub.addWorker(workerOptions),
  };
}
