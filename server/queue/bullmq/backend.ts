/**
 * The BullMQ backend's factory: queues and workers on one Redis, under one key prefix. Options
 * are few; every timing follows from the stall interval.
 */
import { ValidationError } from '../../../pipelines/errors';
import type {
  BackendCapabilities,
  QueueBackend,
  QueueWorker,
  RunQueue,
  WorkerOptions,
} from '../types';
import { BullmqRunQueue } from './bullmq-queue';
import { BullmqQueueWorker } from './bullmq-worker';
import { redactUrl } from './connection';
import type { BullmqContext, BullmqTimings } from './context';
import { RedisKeys } from './keys';

/** Options of {@link bullmqBackend}. */
export interface BullmqBackendOptions {
  /** Redis URL (`redis://[:password@]host:port[/db]`). */
  url: string;
  /** Prefix of every key and BullMQ queue; default `nbstage`. Tests use `test-<uuid>`. */
  prefix?: string;
  /**
   * A job whose worker stops responding (killed, cut off) fails within about this long, with
   * "worker <id> stopped responding"; a stopped worker's sessions are released as fast. Locks
   * last half of it, checks run every quarter. Default 30 000 ms; at least 400.
   */
  stalledIntervalMs?: number;
  /** How often label sets and stopped workers are looked for; default 1000 ms. */
  pollIntervalMs?: number;
  /** How long the first connection may take before NBSTAGE_UNREACHABLE; default 10 000 ms. */
  connectTimeoutMs?: number;
  /** How long a finished job's record is kept in Redis; default 7 days. */
  retainFinishedMs?: number;
  /** Where connection and background errors go; default one line on stderr, repeats muted. */
  onError?: (err: Error) => void;
}

/** The timings of a backend from its options. */
export function timingsOf(options: BullmqBackendOptions): BullmqTimings {
  const stalledIntervalMs = options.stalledIntervalMs ?? 30_000;
  if (!Number.isFinite(stalledIntervalMs) || stalledIntervalMs < 400) {
    throw new ValidationError('stalledIntervalMs', 'stalledIntervalMs must be at least 400');
  }
  return {
    stalledIntervalMs,
    lockDurationMs: Math.round(stalledIntervalMs / 2),
    stalledCheckMs: Math.round(stalledIntervalMs / 4),
    tickMs: Math.round(stalledIntervalMs / 4),
    heartbeatTtlMs: stalledIntervalMs,
    pollMs: options.pollIntervalMs ?? 1000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    retainFinishedMs: options.retainFinishedMs ?? 7 * 24 * 3600 * 1000,
  };
}

/** One line on stderr per error, the same message at most once a minute. */
function stderrErrors(url: string): (err: Error) => void {
  const seen = new Map<string, number>();
  return (err) => {
    const message = err.message;
    const last = seen.get(message) ?? 0;
    if (Date.now() - last > 60_000) {
      seen.set(message, Date.now());
      process.stderr.write(`nbstage queue (${redactUrl(url)}): ${message}\n`);
    }
  };
}

/** Jobs live in Redis; workers anywhere take them, and their payloads cross hosts. */
const BULLMQ_CAPABILITIES: BackendCapabilities = {
  name: 'redis',
  durable: true,
  remoteWorkers: true,
  sharedSecretKey: true,
};

/** A backend whose jobs wait in BullMQ queues on Redis and whose workers may run anywhere. */
export function bullmqBackend(options: BullmqBackendOptions): QueueBackend {
  const prefix = options.prefix ?? 'nbstage';
  if (prefix === '' || prefix.includes(':')) {
    throw new ValidationError('prefix', `prefix "${prefix}" must be non-empty, without ':'`);
  }
  const context: BullmqContext = {
    url: options.url,
    keys: new RedisKeys(prefix),
    timings: timingsOf(options),
    onError: options.onError ?? stderrErrors(options.url),
  };
  return {
    capabilities: BULLMQ_CAPABILITIES,
    queue: (): RunQueue => new BullmqRunQueue(context),
    worker: (workerOptions: WorkerOptions): QueueWorker =>
      new BullmqQueueWorker(context, workerOptions),
  };
}
