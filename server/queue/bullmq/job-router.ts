/**
 * Puts jobs into the BullMQ queue they belong in. BullMQ has no per-worker filtering, so routing
 * is by queue: a job of a session some live worker holds goes to that worker's own queue
 * (`runs/worker/<id>`); any other job goes to the queue of its label set (`runs/<key>`), which is
 * registered so that workers can discover it. Every add publishes a wake-up for the queue's
 * listeners. Also moves the waiting jobs out of a stopped worker's queue.
 */
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { jobErrorOf } from '../job-outcome';
import { labelSetKey } from '../labels';
import type { RunJobPayload } from '../types';
import { parseRunJobPayload } from '../validate';
import {
  bullPriorityOf,
  jobIdOf,
  labelKeyQueueName,
  runIdOfJobId,
  workerQueueName,
  type RedisKeys,
} from './keys';
import type { RedisRunStore } from './run-store';

/** Routes jobs to BullMQ queues; owns the Queue objects it makes, not the connection. */
export class JobRouter {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly store: RedisRunStore,
    private readonly onError: (err: Error) => void,
  ) {}

  /** The BullMQ queue of that name (made once, on the shared connection). */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.redis, prefix: this.keys.prefix });
      queue.on('error', this.onError);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** The queue a job goes to now: its session's live worker's, else its label set's. */
  async targetOf(payload: RunJobPayload): Promise<string> {
    if (payload.session !== undefined && payload.session !== null) {
      const owner = await this.store.sessionOwner(payload.session);
      if (owner !== null) {
        return workerQueueName(owner);
      }
    }
    const key = labelSetKey(payload.labels);
    await this.store.addLabelSet(key);
    return labelKeyQueueName(key);
  }

  /** Adds a job to a queue and wakes that queue's workers. */
  async add(queueName: string, payload: RunJobPayload): Promise<void> {
    await this.queue(queueName).add('run', payload, {
      jobId: jobIdOf(payload.runId),
      priority: bullPriorityOf(payload.priority),
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: true,
    });
    await this.store.publishControl({ type: 'wake', queue: queueName });
  }

  /** Sends a queued job to the worker that holds its session. */
  async forward(payload: RunJobPayload, workerId: string): Promise<void> {
    const target = workerQueueName(workerId);
    await this.store.setQueue(payload.runId, target);
    await this.add(target, payload);
  }

  /**
   * Moves the waiting jobs of a stopped worker's queue to where they belong now (their sessions'
   * pins went with the worker, so usually their label sets' queues). Returns how many jobs are
   * still in that queue (active ones, left to the stalled-job check).
   */
  async rescue(workerId: string, finishedAt: () => string): Promise<number> {
    const queue = this.queue(workerQueueName(workerId));
    const jobs = await queue.getJobs(['waiting', 'prioritized'], 0, -1, true);
    for (const job of jobs) {
      if (job.id === undefined || (await queue.remove(job.id)) !== 1) {
        continue;
      }
      const runId = runIdOfJobId(job.id);
      let payload: RunJobPayload;
      try {
        payload = parseRunJobPayload(job.data as unknown);
      } catch (err) {
        if (runId !== undefined) {
          await this.store.failQueued(runId, jobErrorOf(err), finishedAt());
        }
        continue;
      }
      const target = await this.targetOf(payload);
      await this.store.setQueue(payload.runId, target);
      await this.add(target, payload);
    }
    const counts = await queue.getJobCounts('active', 'waiting', 'prioritized');
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  /** Deletes a stopped worker's (empty) queue and forgets its Queue object. */
  async drop(workerId: string): Promise<void> {
    const name = workerQueueName(workerId);
    const queue = this.queue(name);
    this.queues.delete(name);
    try {
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  }

  /** Closes every Queue object (the connection stays open: it is the caller's). */
  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    await Promise.all(queues.map((q) => q.close().catch(this.onError)));
  }
}
