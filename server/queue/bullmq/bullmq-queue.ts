/**
 * The service's side of the BullMQ backend: enqueue, get, cancel, depth, workers and events over
 * Redis. It also keeps watch over every queue so that no job is left behind: it runs BullMQ's
 * stalled-job check on each label-set queue and worker queue (a job whose worker was killed fails
 * with "worker <id> stopped responding" even when no other worker listens to that queue), and it
 * moves the waiting jobs of a stopped worker's own queue back to their label sets.
 */
import type { Worker } from 'bullmq';
import type Redis from 'ioredis';
import { ValidationError } from '../../../pipelines/errors';
import { jobErrorOf } from '../job-outcome';
import type { JobInfo, QueueEvent, RunJobPayload, RunQueue, WorkerInfo } from '../types';
import { QueueListeners } from '../event-listeners';
import { parseQueueEvent, parseRunJobPayload, readMessage } from '../validate';
import { closeRedis, connectRedis, waitUntilReady } from './connection';
import { openBullWorker, type BullmqContext } from './context';
import { JobRouter } from './job-router';
import { jobIdOf, labelKeyQueueName, workerQueueName } from './keys';
import { RedisRunStore } from './run-store';

const now = (): string => new Date().toISOString();

/** A RunQueue on Redis through BullMQ. */
export class BullmqRunQueue implements RunQueue {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly store: RedisRunStore;
  private readonly router: JobRouter;
  private readonly listeners: QueueListeners;
  private readonly watchers = new Map<string, Promise<Worker>>();
  private readonly subscribed: Promise<unknown>;
  private maintenance: ReturnType<typeof setInterval> | undefined;
  private maintaining: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly context: BullmqContext) {
    this.listeners = new QueueListeners(context.onError);
    this.redis = connectRedis(context.url, context.onError);
    this.subscriber = connectRedis(context.url, context.onError);
    this.store = new RedisRunStore(this.redis, context.keys, context.timings.retainFinishedMs);
    this.router = new JobRouter(this.redis, context.keys, this.store, context.onError);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === context.keys.events()) {
        this.deliver(message);
      }
    });
    this.subscribed = this.subscriber.subscribe(context.keys.events());
    this.subscribed.catch(() => undefined);
    this.maintenance = setInterval(() => this.maintain(), context.timings.pollMs);
    this.maintenance.unref();
    this.maintain();
  }

  async enqueue(input: RunJobPayload): Promise<JobInfo> {
    const payload = parseRunJobPayload(input);
    await this.ready();
    const target = await this.router.targetOf(payload);
    const enqueuedAt = now();
    if (!(await this.store.create(payload.runId, target, enqueuedAt))) {
      throw new ValidationError('payload.runId', `run ${payload.runId} is already queued`);
    }
    try {
      await this.router.add(target, payload);
    } catch (err) {
      await this.store.failQueued(payload.runId, jobErrorOf(err), now());
      throw err;
    }
    return { runId: payload.runId, state: 'queued', enqueuedAt };
  }

  async get(runId: string): Promise<JobInfo | null> {
    await this.ready();
    return this.store.get(runId);
  }

  async cancel(runId: string): Promise<boolean> {
    await this.ready();
    const outcome = await this.store.cancel(runId, now());
    if (outcome === 'cancelled') {
      // Best effort: a worker that takes the job anyway finds it cancelled and skips it.
      const queue = await this.store.queueOf(runId);
      if (queue !== null) {
        await this.router
          .queue(queue)
          .remove(jobIdOf(runId))
          .catch(() => 0);
      }
      return true;
    }
    if (outcome === 'requested') {
      await this.store.publishControl({ type: 'cancel', runId });
      return true;
    }
    return false;
  }

  async depth(): Promise<{ queued: number; active: number }> {
    await this.ready();
    return this.store.depth();
  }

  async workers(): Promise<WorkerInfo[]> {
    await this.ready();
    return this.store.workerInfos();
  }

  onEvent(listener: (e: QueueEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  close(): Promise<void> {
    if (this.closed === undefined) {
      this.closed = (async () => {
        clearInterval(this.maintenance);
        this.maintenance = undefined;
        this.listeners.clear();
        await this.maintaining;
        const watchers = [...this.watchers.values()];
        this.watchers.clear();
        await Promise.all(
          watchers.map((w) =>
            w.then((worker) => worker.close()).catch((err: Error) => this.context.onError(err)),
          ),
        );
        await this.router.close();
        await Promise.all([closeRedis(this.subscriber), closeRedis(this.redis)]);
      })();
    }
    return this.closed;
  }

  /** Connected and subscribed to events (so no event of a job this handle enqueues is missed). */
  private async ready(): Promise<void> {
    if (this.closed !== undefined) {
      throw new Error('the run queue is closed');
    }
    const timeout = this.context.timings.connectTimeoutMs;
    await waitUntilReady(this.redis, this.context.url, timeout);
    await waitUntilReady(this.subscriber, this.context.url, timeout);
    await this.subscribed;
  }

  private deliver(message: string): void {
    const event = readMessage(message, 'event', parseQueueEvent, this.context.onError);
    if (event === undefined) {
      return;
    }
    this.listeners.emit(event);
  }

  /** One round of upkeep (skipped while the previous one runs or Redis is away). */
  private maintain(): void {
    if (this.maintaining !== undefined || this.closed !== undefined) {
      return;
    }
    if (this.redis.status !== 'ready') {
      return;
    }
    this.maintaining = this.upkeep()
      .catch((err: Error) => this.context.onError(err))
      .finally(() => {
        this.maintaining = undefined;
      });
  }

  /** Watches every queue, and empties the queues of stopped workers. */
  private async upkeep(): Promise<void> {
    for (const key of await this.store.labelSets()) {
      this.watch(labelKeyQueueName(key));
    }
    for (const workerId of await this.store.workerIds()) {
      if (this.closed !== undefined) {
        return;
      }
      if (await this.store.isAlive(workerId)) {
        this.watch(workerQueueName(workerId));
      } else {
        await this.sweep(workerId);
      }
    }
  }

  /** Runs the stalled-job check on a queue (once per queue). */
  private watch(name: string): void {
    if (this.watchers.has(name) || this.closed !== undefined) {
      return;
    }
    const watcher = openBullWorker(name, this.redis, this.context, (runId) => {
      this.store.failLost(runId, now()).catch(this.context.onError);
    });
    watcher.catch((err: Error) => {
      this.watchers.delete(name);
      this.context.onError(err);
    });
    this.watchers.set(name, watcher);
  }

  /**
   * A worker stopped (its heartbeat expired): its waiting jobs go back to their label sets, its
   * active jobs fail (unless the stalled-job check got there first), and once its queue is empty
   * it is forgotten.
   */
  private async sweep(workerId: string): Promise<void> {
    for (const runId of await this.store.activeRunsOf(workerId)) {
      await this.store.failLost(runId, now(), workerId);
    }
    const left = await this.router.rescue(workerId, now);
    if (left === 0) {
      const name = workerQueueName(workerId);
      const watcher = this.watchers.get(name);
      this.watchers.delete(name);
      await watcher?.then((w) => w.close()).catch(() => undefined);
      await this.router.drop(workerId);
      await this.store.unregisterWorker(workerId);
    }
  }
}
