/**
 * Names of everything the BullMQ backend keeps in Redis, all under one prefix: BullMQ queues
 * (`runs/<label-set>` per label set, `runs/worker/<id>` per worker for its sessions' jobs), BullMQ
 * job ids, and nbstage's own keys (job records, state sets, label-set registry, session pins,
 * worker heartbeats) and pub/sub channels.
 */
import { labelSetKey } from '../labels';

/** Where a BullMQ queue's jobs are bound: one label set, or one worker (its sessions). */
export type QueueTarget = { kind: 'labels'; key: string } | { kind: 'worker'; workerId: string };

const LABELS_QUEUE = 'runs/';
const WORKER_QUEUE = 'runs/worker/';

/** The BullMQ queue of a label set: `runs/gpu`, `runs/cpu+gpu`, `runs/-`. */
export function labelQueueName(labels: readonly string[]): string {
  return LABELS_QUEUE + labelSetKey(labels);
}

/** The BullMQ queue of a label-set key. */
export function labelKeyQueueName(key: string): string {
  return LABELS_QUEUE + key;
}

/** The BullMQ queue holding the jobs of the sessions one worker holds. */
export function workerQueueName(workerId: string): string {
  return WORKER_QUEUE + workerId;
}

/** What a queue name is bound to (labels never contain `/`, so the two kinds cannot clash). */
export function parseQueueName(name: string): QueueTarget | undefined {
  if (name.startsWith(WORKER_QUEUE) && name.length > WORKER_QUEUE.length) {
    return { kind: 'worker', workerId: name.slice(WORKER_QUEUE.length) };
  }
  const rest = name.slice(LABELS_QUEUE.length);
  if (name.startsWith(LABELS_QUEUE) && rest.length > 0 && !rest.includes('/')) {
    return { kind: 'labels', key: rest };
  }
  return undefined;
}

const JOB_ID_PREFIX = 'run.';

/** The BullMQ job id of a run (BullMQ refuses integer-looking ids, so never the bare run id). */
export function jobIdOf(runId: string): string {
  return JOB_ID_PREFIX + runId;
}

/** The run id of a BullMQ job id. */
export function runIdOfJobId(jobId: string | undefined): string | undefined {
  return jobId?.startsWith(JOB_ID_PREFIX) ? jobId.slice(JOB_ID_PREFIX.length) : undefined;
}

/** BullMQ's priority (1 runs first) for ours (higher runs first, -1000 to 1000). */
export function bullPriorityOf(priority: number | undefined): number {
  return 1 + 1000 - (priority ?? 0);
}

/** nbstage's own keys and channels under a prefix (BullMQ's keys are `<prefix>:<queue>:...`). */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** Hash with a job's record (state, worker, times, result, error, cancel flag). */
  run(runId: string): string {
    return `${this.prefix}:run:${runId}`;
  }

  /** Set of the run ids in a state (queued or active). */
  state(state: 'queued' | 'active'): string {
    return `${this.prefix}:state:${state}`;
  }

  /** Set of every label-set key a job was ever enqueued with. */
  labelSets(): string {
    return `${this.prefix}:label-sets`;
  }

  /** String: the id of the worker holding a session, with a TTL it refreshes. */
  session(session: string): string {
    return `${this.prefix}:session:${session}`;
  }

  /** Prefix of worker heartbeat keys (used inside Lua). */
  workerPrefix(): string {
    return `${this.prefix}:worker:`;
  }

  /** String: a worker's heartbeat (its WorkerInfo as JSON), with a TTL it refreshes. */
  worker(workerId: string): string {
    return this.workerPrefix() + workerId;
  }

  /** Set of the ids of workers that registered (alive or not yet swept). */
  workers(): string {
    return `${this.prefix}:workers`;
  }

  /** Channel of job events. */
  events(): string {
    return `${this.prefix}:events`;
  }

  /** Channel of control messages (cancel, wake). */
  control(): string {
    return `${this.prefix}:control`;
  }
}
