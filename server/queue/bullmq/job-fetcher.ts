/**
 * How a BullMQ worker takes jobs: it listens to its own queue and to the label-set queues whose
 * labels it all has, and fetches by hand (`getNextJob`), its own queue first and then the others
 * in turn, so one concurrency limit covers every queue. Also how a job is handed back to BullMQ,
 * and what happens to one whose data Redis cannot give back as JSON.
 */
import { Job, type Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { ValidationError } from '../../../pipelines/errors';
import { jobErrorOf } from '../job-outcome';
import { canTake, labelsOfKey } from '../labels';
import { runIdOfJobData } from '../validate';
import { openBullWorker, type BullmqContext } from './context';
import { labelKeyQueueName, runIdOfJobId, workerQueueName } from './keys';
import type { RedisRunStore } from './run-store';

const now = (): string => new Date().toISOString();

/** A job a worker took from BullMQ and has not handed back yet. */
export interface TakenJob {
  queueName: string;
  bull: Worker;
  job: Job;
  /** The lock token of this take. */
  token: string;
  /** The run of the job; undefined when neither its id nor its data names one. */
  runId: string | undefined;
  /** Aborted when the run is cancelled or the queue ended it. */
  controller: AbortController;
  /** From the job's activation until its end is recorded. */
  active: boolean;
  /** Settles when the job has been run and handed back. */
  done?: Promise<void>;
}

/** The queues one worker listens to, and the next job from them. */
export class JobFetcher {
  private readonly listening = new Map<string, Worker>();
  private readonly opening = new Map<string, Promise<void>>();
  private rotation = 0;
  private tokens = 0;
  /** Distinguishes the lock tokens of this worker object from those of an earlier one. */
  private readonly lockNonce = randomBytes(4).toString('hex');
  private stopped = false;

  /**
   * @param onOpened - called when a queue has been opened (there may be jobs to take)
   */
  constructor(
    private readonly workerId: string,
    private readonly redis: Redis,
    private readonly store: RedisRunStore,
    private readonly context: BullmqContext,
    private readonly onOpened: () => void,
  ) {}

  /** True when this worker listens to the queue already. */
  listens(queueName: string): boolean {
    return this.listening.has(queueName);
  }

  /** Starts listening to one queue (once). */
  open(queueName: string): Promise<void> {
    if (this.stopped || this.listening.has(queueName)) {
      return Promise.resolve();
    }
    let opening = this.opening.get(queueName);
    if (opening === undefined) {
      const onStalled = (runId: string): void => {
        this.store.failLost(runId, now()).catch(this.context.onError);
      };
      opening = openBullWorker(queueName, this.redis, this.context, onStalled, this.workerId)
        .then(async (bull) => {
          if (this.stopped) {
            await bull.close();
            return;
          }
          this.listening.set(queueName, bull);
          this.onOpened();
        })
        .finally(() => this.opening.delete(queueName));
      this.opening.set(queueName, opening);
    }
    return opening;
  }

  /** Starts listening to every label-set queue a worker with `labels` may take jobs from. */
  async discover(labels: readonly string[]): Promise<void> {
    for (const key of await this.store.labelSets()) {
      if (canTake(labels, labelsOfKey(key))) {
        await this.open(labelKeyQueueName(key));
      }
    }
  }

  /** The next job of this worker's own queue, else of its label-set queues in turn. */
  async next(): Promise<TakenJob | undefined> {
    const own = workerQueueName(this.workerId);
    const others = [...this.listening.keys()].filter((name) => name !== own);
    const start = others.length === 0 ? 0 : this.rotation++ % others.length;
    const order = [own, ...others.slice(start), ...others.slice(0, start)];
    for (const queueName of order) {
      const bull = this.listening.get(queueName);
      if (bull === undefined || this.stopped) {
        continue;
      }
      const token = `${this.workerId}:${++this.tokens}:${this.lockNonce}`;
      let job: Job | undefined;
      try {
        job = (await bull.getNextJob(token, { block: false })) as Job | undefined;
      } catch (err) {
        if (!(err instanceof SyntaxError)) {
          throw err;
        }
        await this.refuseUnreadable(bull, token);
        continue;
      }
      if (job !== undefined) {
        const runId = runIdOfJobId(job.id) ?? runIdOfJobData(job.data as unknown);
        return {
          queueName,
          bull,
          job,
          token,
          runId,
          controller: new AbortController(),
          active: false,
        };
      }
    }
    return undefined;
  }

  /** Tells BullMQ the job is done with (the record, not BullMQ, says how it ended). */
  async handBack(taken: TakenJob): Promise<void> {
    try {
      await taken.job.moveToCompleted('done', taken.token, false);
    } catch {
      // The lock was lost (BullMQ's stalled-job check took the job back); nothing to hand back.
    }
  }

  /** Opens no more queues and takes no more jobs. */
  stop(): void {
    this.stopped = true;
  }

  /** Stops, waits for the queues being opened, and closes the BullMQ worker of each queue. */
  async close(): Promise<void> {
    this.stop();
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
    const bulls = [...this.listening.values()];
    this.listening.clear();
    await Promise.all(bulls.map((bull) => bull.close().catch(this.context.onError)));
  }

  /**
   * BullMQ took a job for this worker but could not parse its data (not JSON): find it by the
   * lock this take holds, fail its run with NBSTAGE_VALIDATION and fail the BullMQ job.
   */
  private async refuseUnreadable(bull: Worker, token: string): Promise<void> {
    for (const jobId of await this.redis.lrange(bull.keys.active, 0, -1)) {
      if ((await this.redis.get(`${bull.toKey(jobId)}:lock`)) !== token) {
        continue;
      }
      const message = `invalid payload: the data of job ${jobId} read back from Redis is not JSON`;
      const runId = runIdOfJobId(jobId);
      if (runId !== undefined) {
        const error = jobErrorOf(new ValidationError('payload', message));
        await this.store.failQueued(runId, error, now());
      }
      const job = new Job(bull, 'run', {}, { attempts: 1, removeOnFail: true }, jobId);
      await job.moveToFailed(new Error(message), token, false).catch(this.context.onError);
    }
  }
}
