/**
 * What the BullMQ backend's queue and workers share: the Redis URL, the key names, the timings
 * derived from the backend's options, the error sink; and the BullMQ Worker that both use to
 * listen to one queue (workers fetch jobs with it, the queue only runs its stalled-job check).
 */
import { Worker } from 'bullmq';
import type Redis from 'ioredis';
import { runIdOfJobId, type RedisKeys } from './keys';

/** Timings of the backend, all in milliseconds. */
export interface BullmqTimings {
  /** A job whose worker stops responding fails within about this long. */
  stalledIntervalMs: number;
  /** BullMQ lock of an active job (half the stall interval). */
  lockDurationMs: number;
  /** How often BullMQ checks for stalled jobs (a quarter of the stall interval). */
  stalledCheckMs: number;
  /** How often a worker renews locks, heartbeats, refreshes pins and checks for cancels. */
  tickMs: number;
  /** A worker's heartbeat and its session pins live this long unless refreshed. */
  heartbeatTtlMs: number;
  /** How often label sets and stopped workers are looked for (pub/sub makes most waits short). */
  pollMs: number;
  /** How long the first connection may take before NBSTAGE_UNREACHABLE. */
  connectTimeoutMs: number;
  /** How long a finished job's record is kept. */
  retainFinishedMs: number;
}

/** Everything a queue or worker of one BullMQ backend needs besides its own connections. */
export interface BullmqContext {
  url: string;
  keys: RedisKeys;
  timings: BullmqTimings;
  onError: (err: Error) => void;
}

/**
 * A BullMQ Worker on one queue that fetches nothing by itself (jobs are fetched by hand with
 * `getNextJob`, so one nbstage worker can serve several queues under one concurrency limit) and
 * runs BullMQ's stalled-job check, reporting the run id of each stalled job. With
 * `maxStalledCount: 0` BullMQ fails rather than retries such a job.
 */
export async function openBullWorker(
  name: string,
  redis: Redis,
  context: BullmqContext,
  onStalled: (runId: string) => void,
  workerName?: string,
): Promise<Worker> {
  const { timings, keys } = context;
  const worker = new Worker(name, null, {
    connection: redis,
    prefix: keys.prefix,
    autorun: false,
    name: workerName,
    lockDuration: timings.lockDurationMs,
    stalledInterval: timings.stalledCheckMs,
    maxStalledCount: 0,
  });
  worker.on('error', context.onError);
  worker.on('stalled', (jobId: string) => {
    const runId = runIdOfJobId(jobId);
    if (runId !== undefined) {
      onStalled(runId);
    }
  });
  await worker.waitUntilReady();
  void worker.startStalledCheckTimer();
  return worker;
}
