/**
 * The run queue's contract: what a run job carries, the states it goes through, the queue the
 * service talks to and the workers that execute jobs. Two backends implement it (in-process and
 * BullMQ on Redis) and pass one shared contract suite; nothing outside server/queue/ needs to know
 * which one it has: what differs, it asks the backend's capabilities.
 */
import type { JSONObject } from '../../pipelines/notebook/model';

export type { JSONObject };

/** What a run job carries; validated with ajv when enqueued and again when read back from Redis. */
export interface RunJobPayload {
  /** The run's id, unique per queue: letters, digits, `.`, `_`, `-` (at most 128). */
  runId: string;
  /** Required worker labels (`['gpu']`): a worker takes the job only if it has all of them. */
  labels: string[];
  /**
   * The session whose kernel the run uses. The first job of a session goes to any eligible
   * worker, which then holds the session; later jobs of the session go to that worker.
   */
  session?: string | null;
  /** GPUs the run needs (the worker hands them out; the queue only carries the number). */
  gpus?: number;
  /** Higher runs first; an integer from -1000 to 1000, default 0. FIFO within a priority. */
  priority?: number;
  /** The run request; opaque to the queue. */
  spec: JSONObject;
  /**
   * When the job has ended (any outcome), the worker lets go of its session and shuts the
   * session's kernel down (`nbstageClose`, `POST /api/v1/sessions/:session/close`).
   */
  endSession?: boolean;
}

/** The life of a job: queued -> active -> completed | failed | cancelled (or queued -> cancelled). */
export type JobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

/** The states a job never leaves. */
export const FINISHED_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];

/** An error as kept on a failed job: a stable `NBSTAGE_...` code and a message. */
export interface JobError {
  code: string;
  message: string;
}

/** What the queue knows about one job. Times are ISO 8601 strings. */
export interface JobInfo {
  runId: string;
  state: JobState;
  /** The worker that took the job (set from `active` on). */
  workerId?: string;
  /** What the handler resolved with (completed, or cancelled when it still resolved). */
  result?: JSONObject;
  /** Why the job failed. */
  error?: JobError;
  enqueuedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** The kinds of {@link QueueEvent}. */
export type QueueEventType =
  'queued' | 'active' | 'progress' | 'completed' | 'failed' | 'cancelled';

/**
 * One change of one job. Per job they come in order: `queued`, `active`, any `progress`, then one
 * of `completed`, `failed`, `cancelled` (a job cancelled while queued skips `active`). `data` is
 * `{ workerId }` for active, the progress data, the result for completed, the error for failed.
 */
export interface QueueEvent {
  runId: string;
  type: QueueEventType;
  data?: JSONObject;
}

/** What a handler gets for one job. */
export interface JobContext {
  payload: RunJobPayload;
  /** Aborted when the run is cancelled (or the worker lost the job); abort the kernel then. */
  signal: AbortSignal;
  /** Publishes a `progress` event for the job. */
  progress(data: JSONObject): Promise<void>;
}

/**
 * Runs one job. Resolving completes it; rejecting fails it, keeping the error's `code` (an
 * {@link NbstageError}'s, or `NBSTAGE_INTERNAL`) and message.
 */
export type JobHandler = (ctx: JobContext) => Promise<JSONObject>;

/** A worker as the queue sees it, for the service's workers listing. */
export interface WorkerInfo {
  id: string;
  labels: string[];
  concurrency: number;
  /** Jobs it is running now. */
  active: number;
  /** Sessions it holds (their kernels live on it). */
  sessions: string[];
}

/** The queue the service talks to: enqueue, look up, cancel, count and follow jobs. */
export interface RunQueue {
  /** Queues a job; throws a ValidationError for an invalid payload or a runId already used. */
  enqueue(payload: RunJobPayload): Promise<JobInfo>;
  /** The job's state, or null when there is no such job. */
  get(runId: string): Promise<JobInfo | null>;
  /**
   * Cancels a job: a queued job is cancelled at once; an active job has its signal aborted and is
   * cancelled when its handler settles. False when the job is unknown or already finished.
   */
  cancel(runId: string): Promise<boolean>;
  /** How many jobs are queued and active, over all labels and workers. */
  depth(): Promise<{ queued: number; active: number }>;
  /** The workers alive now. */
  workers(): Promise<WorkerInfo[]>;
  /** Calls `listener` for every job event; returns a function that stops it. */
  onEvent(listener: (e: QueueEvent) => void): () => void;
  /** Stops listening and lets go of connections. Idempotent; does not touch workers or jobs. */
  close(): Promise<void>;
}

/** Options of {@link QueueBackend.worker}. */
export interface WorkerOptions {
  /** Worker id (letters, digits, `.`, `_`, `-`); default: host name, pid and a random suffix. */
  id?: string;
  /** The labels this worker has; it takes jobs whose labels are all among them. */
  labels: string[];
  /** How many jobs it runs at once (at least 1). */
  concurrency: number;
  handler: JobHandler;
  /** Sessions this worker already holds (kernels it kept, e.g. across a restart). */
  sessions?: string[];
  /**
   * A session none of whose jobs ran for this long (ms) is released: the pin goes and
   * `onSessionReleased` is called so the kernel can be shut down. Default 30 minutes.
   */
  sessionIdleMs?: number;
  /**
   * Called when the worker lets go of a session (idle, `releaseSession`, or `close`);
   * `releaseSession` waits for a returned promise (the kernel's shutdown).
   */
  onSessionReleased?: (session: string) => void | Promise<void>;
}

/** A worker taking jobs from the queue. */
export interface QueueWorker {
  readonly id: string;
  readonly labels: string[];
  /** Resolves once the worker is connected and listening for jobs. */
  ready(): Promise<void>;
  /** The sessions this worker holds now. */
  sessions(): string[];
  /** Lets go of a session (its kernel is gone); its next job goes to any eligible worker. */
  releaseSession(session: string): Promise<void>;
  /**
   * Stops taking jobs, waits for the running handlers to settle, releases its sessions and
   * connections. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * What differs between the backends, for the service to ask instead of knowing which backend it
 * has.
 */
export interface BackendCapabilities {
  /** The backend's name in logs: `in-process` or `redis`. */
  readonly name: string;
  /**
   * Jobs outlive this process: after a restart a queued job is still queued and an active one is
   * still followed. In-process jobs end with the process.
   */
  readonly durable: boolean;
  /**
   * Workers may run in other processes and on other hosts (`nbstage worker`), with kernelspecs of
   * their own; false when every worker is one this process started.
   */
  readonly remoteWorkers: boolean;
  /**
   * Job payloads leave this process, so the secrets sealed into them need a key the workers share
   * (NBSTAGE_SECRET_KEY); in-process, a key of the process's own does.
   */
  readonly sharedSecretKey: boolean;
}

/** The factory both backends implement. */
export interface QueueBackend {
  /** What this backend can do that the other cannot. */
  readonly capabilities: BackendCapabilities;
  /** A handle on the queue (several may coexist; each is closed by whoever made it). */
  queue(): RunQueue;
  /** Starts a worker that runs `handler` for the jobs it may take. */
  worker(options: WorkerOptions): QueueWorker;
}
