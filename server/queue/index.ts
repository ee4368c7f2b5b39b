/**
 * The run queue: one interface (types.ts), two backends. `inProcessBackend()` keeps everything in
 * this process (`nbstage serve` without `--redis`); `bullmqBackend({ url })` queues on Redis
 * through BullMQ so that `nbstage worker` processes on other hosts take the jobs whose labels
 * they have. Import from here, not from the backends' files.
 */
export type {
  BackendCapabilities,
  JobContext,
  JobError,
  JobHandler,
  JobInfo,
  JobState,
  QueueBackend,
  QueueEvent,
  QueueEventType,
  QueueWorker,
  RunJobPayload,
  RunQueue,
  WorkerInfo,
  WorkerOptions,
} from './types';
export { FINISHED_STATES } from './types';
export { inProcessBackend, type InProcessBackendOptions } from './in-process/backend';
export { bullmqBackend, type BullmqBackendOptions } from './bullmq/backend';
export { queueBackend, type QueueBackendOptions } from './queue-backend';
export { WORKER_LOST_CODE } from './bullmq/run-store';
export { labelSetKey, canTake } from './labels';
export { parseRunJobPayload } from './validate';
