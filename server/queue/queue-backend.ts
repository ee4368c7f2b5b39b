/**
 * Which backend a service gets: BullMQ on Redis when it is given a Redis URL, else in-process.
 * The one place that chooses; everything after asks the backend's capabilities.
 */
import { bullmqBackend } from './bullmq/backend';
import { inProcessBackend } from './in-process/backend';
import type { QueueBackend } from './types';

/** Options of {@link queueBackend}. */
export interface QueueBackendOptions {
  /** Redis URL: queue on BullMQ, so that workers on other hosts take the jobs. */
  redisUrl?: string;
  /** With Redis: how soon a job whose worker stopped responding fails (ms); default 30 000. */
  stalledIntervalMs?: number;
}

/** The backend for a configuration: BullMQ with a Redis URL, in-process without one. */
export function queueBackend(options: QueueBackendOptions): QueueBackend {
  if (options.redisUrl === undefined) {
    return inProcessBackend();
  }
  return bullmqBackend({ url: options.redisUrl, stalledIntervalMs: options.stalledIntervalMs });
}
