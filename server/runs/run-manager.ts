/**
 * The service's runs: it admits and records a run (run-admission.ts), queues it, follows the
 * queue's events (status, the run's own events forwarded by the worker, the result), streams every
 * run's events to its event log on disk for live and late listeners, keeps a view of each run in
 * flight (its notebook and progress, let go when it ends), and ends every run, whatever its status,
 * with its executed notebook and one version (run-finisher.ts). A run whose worker vanished, or
 * that was in flight when the service stopped, still ends with a clear reason and its partial
 * notebook versioned. What the worker sends is masked by the executor; what the service adds to a
 * run in flight (why it failed) is masked here, with the run's secrets kept in memory until it
 * ends.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Principal } from '../auth/types';
import type { AuditLog } from '../auth/audit';
import type { RunEvent } from '../../pipelines/executor/events';
import { ErrorCode } from '../../pipelines/errors';
import { writeFileAtomic } from '../../pipelines/notebook/io';
import type { JSONObject, JSONValue, Notebook } from '../../pipelines/notebook/model';
import { Masker } from '../../pipelines/secrets/mask';
import { detectFormat } from '../../pipelines/formats/detect';
import type { QueueEvent, RunQueue } from '../queue/types';
import type { VersionStore } from '../store/types';
import { baselineFromStore } from './run-baseline';
import { endRunOutsideKernel } from './end-outside-kernel';
import { RunEventLog } from './event-log';
import { admitRun, type AdmissionRules } from './run-admission';
import { queueLabels, warnWithoutWorker } from './run-placement';
import { finishRun, inputNotebook } from './run-finisher';
import { RunView, finishedProgress, type RunProgress } from './run-view';
import { sealSecrets, sealValue, secretKey, type SecretKey } from './secret-box';
import { SESSION_CLOSE } from './run-job';
import type { RunRequest } from './run-request';
import {
  isFinished,
  saveServiceRun,
  type RunFailure,
  type RunState,
  type ServiceRun,
} from './service-run';

/** What the run manager needs (and the rules every run is admitted by). */
export interface RunManagerOptions extends AdmissionRules {
  home: string;
  queue: RunQueue;
  store: VersionStore;
  audit?: AuditLog;
  /** Called on every state change (metrics, logs). */
  onChange?: (record: ServiceRun, event?: RunEvent) => void;
  log?: (msg: string, fields?: JSONObject) => void;
  /** Seals a run's secrets in the queued job (the workers hold the same key; default: a random one). */
  secretKey?: SecretKey;
}

/**
 * The input a run's folder keeps, with its secrets masked: the notebook as admitted (repaired;
 * binary outputs left as they are), or every string of the Zeppelin note as it came.
 */
function maskedInput(
  request: RunRequest,
  admitted: Notebook,
  name: string,
  masker: Masker,
): JSONObject {
  return detectFormat(name, request.notebook) === 'zeppelin'
    ? masker.maskValue(request.notebook)
    : (masker.maskNotebook(admitted) as unknown as JSONObject);
}

/** The service's run registry and lifecycle. */
export class RunManager {
  private readonly records = new Map<string, ServiceRun>();
  private readonly logs = new Map<string, RunEventLog>();
  /** Runs in flight: their notebook and progress so far (finished runs are read from disk). */
  private readonly views = new Map<string, RunView>();
  private readonly finishing = new Map<string, Promise<void>>();
  /** The maskers of the runs this service admitted that are in flight (never on disk). */
  private readonly maskers = new Map<string, Masker>();
  private readonly unsubscribe: () => void;
  private readonly runsDir: string;
  private readonly key: SecretKey;

  constructor(private readonly options: RunManagerOptions) {
    this.runsDir = path.join(options.home, 'runs');
    this.key = options.secretKey ?? secretKey();
    fs.mkdirSync(this.runsDir, { recursive: true, mode: 0o700 });
    this.unsubscribe = options.queue.onEvent((e) => this.onQueueEvent(e));
  }

  private dir(id: string): string {
    return path.join(this.runsDir, id);
  }

  private async save(record: ServiceRun): Promise<void> {
    await saveServiceRun(this.dir(record.id), record);
  }

  /**
   * Reads back the runs of an earlier service. Runs that were in flight and that the queue no
   * longer knows about (an in-process queue dies with the service) end as `error` with their
   * partial notebook versioned; runs the queue still has (Redis) are followed again.
   */
  async recover(): Promise<{ resumed: number; ended: number }> {
    let resumed = 0;
    let ended = 0;
    for (const id of fs.readdirSync(this.runsDir)) {
      const file = path.join(this.dir(id), 'run.json');
      if (!fs.existsSync(file)) {
        continue;
      }
      const record = JSON.parse(fs.readFileSync(file, 'utf8')) as ServiceRun;
      this.records.set(id, record);
      if (isFinished(record.state)) {
        continue;
      }
      const job = await this.options.queue.get(id);
      const view = new RunView();
      this.views.set(id, view);
      this.logs.set(
        id,
        new RunEventLog(path.join(this.dir(id), 'events.jsonl'), (event) => view.apply(event)),
      );
      if (job !== null && !['completed', 'failed', 'cancelled'].includes(job.state)) {
        resumed += 1;
        continue;
      }
      ended += 1;
      await this.finish(id, null, {
        code: ErrorCode.internal,
        message: 'the service stopped while this run was in flight; its partial notebook is kept',
      });
    }
    return { resumed, ended };
  }

  /**
   * Validates and queues a run. Invalid input throws (400) before anything is recorded.
   *
   * @param reproduces - the stored build the run reproduces (`nbstage reproduce`), if it does
   */
  async create(
    request: RunRequest,
    principal: Principal,
    reproduces?: ServiceRun['reproduces'],
  ): Promise<ServiceRun> {
    const { record, gpus, notebook } = await admitRun(request, principal, this.options);
    if (reproduces !== undefined) {
      record.reproduces = reproduces;
    }
    // The version a run is checked against is found now: a worker needs no store.
    const baseline = await baselineFromStore(this.options.store, record.job, request.baseline);
    await warnWithoutWorker(record, this.options.queue);
    const { id, job, notebookName, warnings = [] } = record;
    for (const warning of warnings) {
      this.options.log?.('notebook repaired', { run: id, warning });
    }
    const masker = new Masker(Object.values(request.secrets ?? {}));
    try {
      fs.mkdirSync(this.dir(id), { recursive: true, mode: 0o700 });
      // The input stands for the run when nothing of it ran: kept, like everything, masked.
      await writeFileAtomic(
        path.join(this.dir(id), `input-${notebookName}`),
        JSON.stringify(maskedInput(request, notebook, notebookName, masker)),
      );
      this.records.set(id, record);
      this.maskers.set(id, masker);
      this.logs.set(id, new RunEventLog(path.join(this.dir(id), 'events.jsonl')));
      this.views.set(id, new RunView());
      await this.save(record);
      await this.options.audit?.record({
        action: 'run.create',
        principal,
        target: id,
        details: { job, build: record.build, notebook: notebookName, labels: record.labels },
      });
      await this.options.queue.enqueue({
        runId: id,
        labels: await queueLabels(record, request, this.options.queue),
        session: record.session,
        gpus,
        spec: {
          ...this.jobSpec(request, masker),
          ...(baseline === null ? {} : { baseline: baseline as unknown as JSONObject }),
        },
      });
    } catch (err) {
      // Nothing half-written: a run the queue refused leaves no record behind.
      this.records.delete(id);
      this.maskers.delete(id);
      this.logs.delete(id);
      this.views.delete(id);
      fs.rmSync(this.dir(id), { recursive: true, force: true });
      throw err;
    }
    this.options.onChange?.(record);
    return record;
  }

  /**
   * Closes a session: a job pinned to the session that runs nothing and makes the worker holding
   * it let go and shut its kernel down once the session's earlier runs are done.
   *
   * @param waitMs - how long to wait for the kernel to be gone
   * @returns whether the session was closed within `waitMs` (else it closes later)
   */
  async closeSession(session: string, principal: Principal, waitMs = 30_000): Promise<boolean> {
    const id = `close-${randomUUID()}`;
    let off: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<boolean>((resolve) => {
      off = this.options.queue.onEvent((e) => {
        if (
          e.runId === id &&
          (e.type === 'completed' || e.type === 'failed' || e.type === 'cancelled')
        ) {
          resolve(e.type === 'completed');
        }
      });
      timer = setTimeout(() => resolve(false), waitMs);
    });
    await this.options.queue.enqueue({
      runId: id,
      labels: [],
      session,
      spec: { control: SESSION_CLOSE },
      endSession: true,
    });
    await this.options.audit?.record({
      action: 'session.close',
      principal,
      target: session,
      details: { job: id },
    });
    try {
      return await ended;
    } finally {
      off();
      clearTimeout(timer);
    }
  }

  /**
   * The queued job's spec: the request, its secrets sealed (never in the clear in a queue), and
   * its parameters sealed too when a value holds a secret; the Jenkins build it came from, which
   * the worker only passes on, masked.
   */
  private jobSpec(request: RunRequest, masker: Masker): JSONObject {
    const { secrets, parameters, jenkins, ...rest } = request;
    if (secrets === undefined || Object.keys(secrets).length === 0) {
      return { request: request as unknown as JSONObject };
    }
    const sealParameters = parameters !== undefined && masker.reveals(JSON.stringify(parameters));
    const queued: JSONObject = {
      ...(rest as unknown as JSONObject),
      ...(parameters === undefined || sealParameters ? {} : { parameters }),
      ...(jenkins === undefined ? {} : { jenkins: masker.maskValue(jenkins as JSONObject) }),
    };
    return {
      request: queued,
      sealedSecrets: sealSecrets(secrets, this.key),
      ...(sealParameters ? { sealedParameters: sealValue(parameters, this.key) } : {}),
    };
  }

  /** `text` with the secrets of run `id` masked (as it is, once the run has ended). */
  private mask(id: string, text: string): string {
    return this.maskers.get(id)?.mask(text) ?? text;
  }

  /** A failure of run `id`, masked. */
  private maskFailure(id: string, failure: RunFailure): RunFailure {
    return { code: failure.code, message: this.mask(id, failure.message) };
  }

  /** A run, or null. */
  get(id: string): ServiceRun | null {
    return this.records.get(id) ?? null;
  }

  /** Runs, newest first. */
  list(filter: { job?: string; state?: RunState } = {}): ServiceRun[] {
    return [...this.records.values()]
      .filter(
        (r) =>
          (filter.job === undefined || r.job === filter.job) &&
          (filter.state === undefined || r.state === filter.state),
      )
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** The event log of a run (for the websocket stream). */
  events(id: string): RunEventLog | null {
    const known = this.logs.get(id);
    if (known !== undefined || !this.records.has(id)) {
      return known ?? null;
    }
    // A run an earlier service finished: its events are read back from its file, and are over.
    const log = new RunEventLog(path.join(this.dir(id), 'events.jsonl'));
    log.end();
    this.logs.set(id, log);
    return log;
  }

  /** Cancels a run; false when it is unknown or already finished. */
  async cancel(id: string, principal: Principal): Promise<boolean> {
    const record = this.records.get(id);
    if (record === undefined || isFinished(record.state)) {
      return false;
    }
    await this.options.audit?.record({ action: 'run.cancel', principal, target: id });
    return this.options.queue.cancel(id);
  }

  /**
   * The executed (or, while running, partial) notebook of a run. A run in flight hands out its
   * live notebook: callers read it, never change it.
   */
  notebook(id: string): Notebook | null {
    const view = this.views.get(id);
    if (view !== undefined) {
      return view.notebook;
    }
    const file = path.join(this.dir(id), 'executed.ipynb');
    if (this.records.has(id) && fs.existsSync(file)) {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
    }
    return null;
  }

  /**
   * A run's notebook, its progress and the number of its events, read together (a page that
   * shows them follows the live stream from exactly that event on).
   */
  snapshot(id: string): { notebook: Notebook | null; progress: RunProgress; seq: number } {
    const seq = this.events(id)?.length ?? 0;
    const view = this.views.get(id);
    if (view !== undefined) {
      return { notebook: view.notebook, progress: view.progress, seq };
    }
    const notebook = this.notebook(id);
    return { notebook, progress: finishedProgress(notebook), seq };
  }

  /** Waits until a run has finished and been versioned (tests, graceful shutdown). */
  async settled(id: string): Promise<ServiceRun | null> {
    for (;;) {
      const record = this.records.get(id);
      if (record === undefined) {
        return null;
      }
      const pending = this.finishing.get(id);
      if (pending !== undefined) {
        await pending;
      } else if (isFinished(record.state) && record.version !== null) {
        return record;
      } else if (
        isFinished(record.state) &&
        this.finishing.get(id) === undefined &&
        record.finishedAt !== null
      ) {
        return record;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private onQueueEvent(e: QueueEvent): void {
    const record = this.records.get(e.runId);
    if (record === undefined) {
      return;
    }
    const log = this.logs.get(e.runId);
    switch (e.type) {
      case 'active':
        record.state = 'running';
        record.startedAt = new Date().toISOString();
        record.workerId = typeof e.data?.workerId === 'string' ? e.data.workerId : null;
        void this.save(record);
        this.options.onChange?.(record);
        break;
      case 'progress': {
        const events = e.data?.events;
        if (Array.isArray(events)) {
          const batch = events.filter(
            (event): event is JSONObject =>
              event !== null && typeof event === 'object' && !Array.isArray(event),
          );
          // One write for the batch; the view is updated in the same turn as the log.
          log?.appendAll(batch);
          const view = this.views.get(e.runId);
          for (const event of batch) {
            view?.apply(event);
            this.options.onChange?.(record, event as unknown as RunEvent);
          }
        }
        break;
      }
      case 'completed':
        this.track(e.runId, this.finish(e.runId, e.data ?? null, null));
        break;
      case 'failed': {
        const err = e.data ?? {};
        this.track(
          e.runId,
          this.finish(e.runId, null, {
            code: typeof err.code === 'string' ? err.code : ErrorCode.internal,
            message: typeof err.message === 'string' ? err.message : 'the run failed',
          }),
        );
        break;
      }
      case 'cancelled':
        // The handler's result (the partial notebook) is kept on the job, not in the event.
        this.track(
          e.runId,
          this.options.queue
            .get(e.runId)
            .catch(() => null)
            .then((info) =>
              this.finish(e.runId, info?.result ?? null, {
                code: ErrorCode.cancelled,
                message: 'run cancelled',
              }),
            ),
        );
        break;
      default:
        break;
    }
  }

  private track(id: string, p: Promise<void>): void {
    const done = p
      .catch(async (err: unknown) => {
        // Never leave a run in flight: it ends as an error that says why.
        const why = this.mask(id, String(err));
        this.options.log?.('finishing a run failed', { run: id, error: why });
        const record = this.records.get(id);
        if (record !== undefined && !isFinished(record.state)) {
          endRunOutsideKernel(record, {
            code: ErrorCode.internal,
            message: `finishing the run failed: ${why}`,
          });
          await this.save(record).catch(() => undefined);
        }
        this.logs.get(id)?.end();
        this.views.delete(id);
      })
      .finally(() => {
        this.finishing.delete(id);
        this.maskers.delete(id);
      });
    this.finishing.set(id, done);
  }

  /**
   * Ends a run: the executed notebook from the worker's result, or the partial one rebuilt from
   * its events; files written; one version committed. Persist first, then report.
   */
  private async finish(
    id: string,
    result: JSONObject | null,
    failure: RunFailure | null,
  ): Promise<void> {
    const record = this.records.get(id);
    if (record === undefined || (isFinished(record.state) && record.version !== null)) {
      return;
    }
    const log = this.logs.get(id);
    const dir = this.dir(id);
    const nb =
      (result?.notebook as unknown as Notebook | undefined) ??
      this.views.get(id)?.notebook ??
      // Nothing ran: the input notebook is the record of what was asked.
      inputNotebook(dir, record);
    // The worker's result is masked where it was made; why the queue says it failed is not.
    const why = failure === null ? null : this.maskFailure(id, failure);
    await finishRun(record, dir, nb, result, why, this.options);
    log?.append({
      type: 'run-finished',
      runId: id,
      state: record.state,
      version: record.version as unknown as JSONValue,
    });
    log?.end();
    // Finished: its notebook is on disk, its events in their file; nothing of it stays here.
    this.views.delete(id);
    this.options.onChange?.(record);
  }

  /** Stops following the queue. */
  close(): void {
    this.unsubscribe();
  }
}
