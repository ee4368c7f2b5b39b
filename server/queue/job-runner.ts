/**
 * Runs one job, the same way for both backends: the job counts as running in its session, the
 * handler gets the job's signal and a progress channel that closes when it settles, its outcome
 * is kept as a result or an error, a job that ends its session lets go of it, and only then is the
 * end reported. The backends compose it and keep only their transport ({@link JobTransport}):
 * where jobs wait, how a worker takes one, and how progress and the end are published.
 */
import { jobErrorOf, jobResultOf, type JobOutcome } from './job-outcome';
import type { SessionTracker } from './session-tracker';
import type { JSONObject, JobHandler, RunJobPayload } from './types';

/** What a backend does for the runner with one job it took. */
export interface JobTransport {
  /** Publishes a `progress` event of the job; called only while the handler runs. */
  progress(data: JSONObject): Promise<void>;
  /**
   * Records how the job ended and publishes it: completed or failed by the outcome, or
   * cancelled when a cancel was asked for meanwhile (the backend knows).
   */
  finish(outcome: JobOutcome): Promise<void>;
}

/** What a {@link JobRunner} needs from its worker. */
export interface JobRunnerOptions {
  /** Runs a job. */
  handler: JobHandler;
  /** The sessions of the worker; a job of a session counts as running in it. */
  tracker: SessionTracker;
  /** The worker's own release: unpins the session and calls `onSessionReleased`. */
  releaseSession(session: string): Promise<void>;
}

/** Runs the jobs of one worker; both backends' workers hold one. */
export class JobRunner {
  constructor(private readonly options: JobRunnerOptions) {}

  /**
   * Runs one job that its worker has taken and made active, and reports its end. Never rejects
   * for the handler's sake (its error is the job's outcome); rejects only when `transport.finish`
   * does.
   *
   * @param signal - aborted when the job is cancelled or the worker lost it
   */
  async run(payload: RunJobPayload, signal: AbortSignal, transport: JobTransport): Promise<void> {
    const session = payload.session ?? undefined;
    if (session !== undefined) {
      this.options.tracker.begin(session);
    }
    let running = true;
    let outcome: JobOutcome;
    try {
      const value = await this.options.handler({
        payload,
        signal,
        progress: async (data) => {
          if (running) {
            await transport.progress(data);
          }
        },
      });
      outcome = { result: jobResultOf(value) };
    } catch (err) {
      outcome = { error: jobErrorOf(err) };
    } finally {
      running = false;
      if (session !== undefined) {
        this.options.tracker.end(session);
      }
    }
    if (payload.endSession === true && session !== undefined) {
      // Let go before the job is reported ended, so its end means the session is closed.
      try {
        await this.options.releaseSession(session);
      } catch (err) {
        // A job that did its part still fails when its session could not be let go.
        if ('result' in outcome) {
          outcome = { error: jobErrorOf(err) };
        }
      }
    }
    await transport.finish(outcome);
  }
}
