/**
 * The submit flow as a service object: a notebook becomes a Jenkins Pipeline job and a build.
 * submit() stores the notebook as the job's source (agents fetch it), generates the Jenkinsfile,
 * creates the job (and missing folders) or replaces its config.xml, triggers the build and
 * returns the submission with its queue item. In the background it then follows the queue item
 * to the build number (or its cancellation), sets the build's description to a link to the
 * nbstage version page, and follows the build to its result. It also answers the Jenkins side
 * of the routes: cancel, console, and the job's builds for the merged history.
 */
import { randomUUID } from 'node:crypto';
import {
  generateJenkinsfile,
  type JenkinsfileOptions,
} from '../../jenkins-plugin-bridge/jenkinsfile/generate';
import {
  escapeXml,
  folderConfigXml,
  notebookJobParameters,
  pipelineJobConfigXml,
} from '../../jenkins-plugin-bridge/rest/config-xml';
import type {
  JenkinsApi,
  JenkinsBuild,
  JenkinsConsoleChunk,
} from '../../jenkins-plugin-bridge/rest/jenkins-api';
import { jobNameProblem } from '../../jenkins-plugin-bridge/rest/job-name';
import {
  ErrorCode,
  JenkinsError,
  JenkinsNotConfiguredError,
  NotFoundError,
  NotebookInvalidError,
  ValidationError,
  asNbstageError,
} from '../../pipelines/errors';
import { detectFormat } from '../../pipelines/formats/detect';
import { validateZeppelinNote, zeppelinToNotebook } from '../../pipelines/formats/zeppelin';
import type { JSONObject, JSONValue, Notebook } from '../../pipelines/notebook/model';
import { cloneNotebook } from '../../pipelines/notebook/model';
import { checkNotebook } from '../../pipelines/notebook/check';
import { listStages } from '../../pipelines/stages/slice';
import { validateJobName } from '../store/ref-names';
import type { BuildVersion } from '../store/types';
import { mergeBuilds, type MergedBuild } from './build-merge';
import type { JobSource, JobSourceStore } from './job-sources';
import type { Submission, SubmitRequest } from './submit-request';

/** What the submitter needs. */
export interface JobSubmitterOptions {
  /** Jenkins, or null when the service has none configured. */
  jenkins: JenkinsApi | null;
  sources: JobSourceStore;
  /** The URL agents and browsers reach the service at (no trailing slash). */
  publicUrl: () => string;
  /** The Jenkinsfile generator (default: the bridge's). */
  generate?: (notebook: Notebook, options: JenkinsfileOptions) => string;
  /** Milliseconds between two looks at a queue item or build (default 1000). */
  pollMs?: number;
  /** How long Jenkins may stay unreachable while a submission is followed (default 60000 ms). */
  outageMs?: number;
  /** Finished submissions kept in memory (default 500). */
  keep?: number;
  log?: (msg: string, fields?: JSONObject) => void;
}

/** Who submitted. */
export interface Submitter {
  name: string;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** A parameter value as Jenkins gets it: strings as they are, anything else as JSON. */
function jenkinsValue(value: JSONValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function isFinished(s: Submission): boolean {
  return s.state === 'finished' || s.state === 'cancelled' || s.state === 'error';
}

/** Creates, triggers and follows Jenkins jobs for submitted notebooks. */
export class JobSubmitter {
  private readonly submissions = new Map<string, Submission>();
  private readonly followers = new Map<string, Promise<void>>();
  private readonly controller = new AbortController();
  private readonly pollMs: number;
  private readonly generate: NonNullable<JobSubmitterOptions['generate']>;

  constructor(private readonly options: JobSubmitterOptions) {
    this.pollMs = options.pollMs ?? 1000;
    this.generate = options.generate ?? generateJenkinsfile;
  }

  /** Whether Jenkins is configured. */
  get configured(): boolean {
    return this.options.jenkins !== null;
  }

  private jenkins(): JenkinsApi {
    if (this.options.jenkins === null) {
      throw new JenkinsNotConfiguredError();
    }
    return this.options.jenkins;
  }

  /** The nbstage version page of a build. */
  versionUrl(job: string, build: number): string {
    return `${this.options.publicUrl()}/jobs/${encodeURIComponent(job)}/builds/${build}`;
  }

  /**
   * Stores the notebook, creates or updates the job, triggers it; resolves once Jenkins has
   * queued the build. Following the queue item and the build goes on in the background.
   *
   * @throws ValidationError for a bad job name, notebook or parameter (before anything is
   *   stored or sent); JenkinsNotConfiguredError, JenkinsError, JenkinsUnreachableError
   */
  async submit(request: SubmitRequest, by: Submitter): Promise<Submission> {
    const jenkins = this.jenkins();
    const problem = jobNameProblem(request.job);
    if (problem !== null) {
      throw new ValidationError('job', `job: "${request.job}" ${problem}`);
    }
    // Its builds are versioned under the same name: what the version store cannot hold is
    // refused now, not when the first build ends.
    validateJobName(request.job, 'job');
    const zeppelin = detectFormat(request.notebookName, request.notebook) === 'zeppelin';
    const name = request.notebookName ?? (zeppelin ? 'note.zpln' : 'notebook.ipynb');
    let nb: Notebook;
    let stages;
    try {
      nb = zeppelin
        ? zeppelinToNotebook(validateZeppelinNote(request.notebook, name))
        : checkNotebook(request.notebook, name).notebook;
      stages = listStages(nb);
    } catch (err) {
      const e = asNbstageError(err);
      throw e instanceof NotebookInvalidError ? new ValidationError('notebook', e.message) : e;
    }
    if (request.agent !== undefined) {
      nb = cloneNotebook(nb);
      for (const stage of stages) {
        const cell = nb.cells[stage.firstCell];
        const meta = (cell.metadata.nbstage ?? {}) as JSONObject;
        if (meta.agent === undefined) {
          cell.metadata.nbstage = { ...meta, agent: request.agent };
        }
      }
    }
    const definitions = notebookJobParameters(nb);
    const known = new Set(definitions.map((p) => p.name));
    const parameters: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.parameters ?? {})) {
      if (!known.has(key)) {
        throw new ValidationError(
          `parameters.${key}`,
          `parameters.${key}: not a parameter of the notebook (its parameters cell has ${
            known.size === 0 ? 'none' : [...known].join(', ')
          })`,
        );
      }
      parameters[key] = jenkinsValue(value);
    }
    let script: string;
    try {
      script = this.generate(nb, {
        notebookPath: name,
        server: this.options.publicUrl(),
        fetchJob: request.job,
      });
    } catch (err) {
      const e = asNbstageError(err);
      throw e instanceof NotebookInvalidError ? new ValidationError('notebook', e.message) : e;
    }

    await this.options.sources.save(
      request.job,
      name,
      Buffer.from(JSON.stringify(request.notebook, null, 1) + '\n'),
    );
    const publicUrl = this.options.publicUrl();
    const config = pipelineJobConfigXml({
      script,
      description:
        `Notebook ${name}, submitted to nbstage. Versions of its builds: ` +
        `${publicUrl}/jobs/${encodeURIComponent(request.job)}. ` +
        'nbstage replaces this configuration on every submit.',
      parameters: definitions,
    });
    const parts = request.job.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (!(await jenkins.itemExists(folder))) {
        await jenkins.createItem(folder, folderConfigXml('Created by nbstage submit.'));
      }
    }
    const created = !(await jenkins.itemExists(request.job));
    if (created) {
      await jenkins.createItem(request.job, config);
    } else {
      await jenkins.updateConfig(request.job, config);
    }
    const queueItem = await jenkins.triggerBuild(
      request.job,
      definitions.length === 0 ? null : parameters,
    );
    const submission: Submission = {
      id: randomUUID(),
      job: request.job,
      state: 'queued',
      created,
      queueItem,
      build: null,
      buildUrl: null,
      versionUrl: null,
      result: null,
      error: null,
      parameters,
      submittedAt: new Date().toISOString(),
      submittedBy: by.name,
      finishedAt: null,
    };
    this.remember(submission);
    this.options.log?.('job submitted', {
      submission: submission.id,
      job: request.job,
      queueItem,
      created,
      by: by.name,
    });
    const follower = this.follow(submission).finally(() => this.followers.delete(submission.id));
    this.followers.set(submission.id, follower);
    return { ...submission };
  }

  private remember(submission: Submission): void {
    this.submissions.set(submission.id, submission);
    const keep = this.options.keep ?? 500;
    for (const [id, s] of this.submissions) {
      if (this.submissions.size <= keep) {
        break;
      }
      if (isFinished(s)) {
        this.submissions.delete(id);
      }
    }
  }

  /** Calls Jenkins until it answers, for at most the outage allowance; null once aborted. */
  private async patiently<T>(fn: () => Promise<T>): Promise<T | null> {
    const signal = this.controller.signal;
    const deadline = Date.now() + (this.options.outageMs ?? 60_000);
    for (;;) {
      if (signal.aborted) {
        return null;
      }
      try {
        return await fn();
      } catch (err) {
        const e = asNbstageError(err);
        // An answer Jenkins gave (other than a server error) will not change by asking again.
        const answered = e instanceof JenkinsError && (e.jenkinsStatus ?? 500) < 500;
        if (answered || Date.now() >= deadline) {
          throw e;
        }
      }
      await sleep(this.pollMs, signal);
    }
  }

  private end(s: Submission, patch: Partial<Submission>): void {
    Object.assign(s, patch, { finishedAt: new Date().toISOString() });
    this.options.log?.('submission ended', {
      submission: s.id,
      job: s.job,
      state: s.state,
      build: s.build,
      result: s.result,
    });
  }

  private async follow(s: Submission): Promise<void> {
    const jenkins = this.jenkins();
    const signal = this.controller.signal;
    try {
      while (s.build === null) {
        const item = await this.patiently(() => jenkins.queueItem(s.queueItem));
        if (item === null) {
          return;
        }
        if (item.cancelled) {
          this.end(s, {
            state: 'cancelled',
            error: {
              code: ErrorCode.cancelled,
              message: `queue item ${s.queueItem} of ${s.job} was cancelled in Jenkins before it started`,
            },
          });
          return;
        }
        if (item.executable !== null) {
          s.build = item.executable.number;
          s.buildUrl = item.executable.url === '' ? null : item.executable.url;
          s.versionUrl = this.versionUrl(s.job, s.build);
          s.state = 'building';
          await this.describe(s);
          break;
        }
        await sleep(this.pollMs, signal);
      }
      for (;;) {
        const build = await this.patiently(() => jenkins.build(s.job, s.build ?? 0));
        if (build === null) {
          return;
        }
        s.buildUrl = build.url;
        if (!build.building && build.result !== null) {
          this.end(s, { state: 'finished', result: build.result });
          return;
        }
        await sleep(this.pollMs, signal);
      }
    } catch (err) {
      const e = asNbstageError(err);
      this.end(s, { state: 'error', error: { code: e.code, message: e.message } });
    }
  }

  /** Links the Jenkins build to its nbstage version; a failure is logged, not fatal. */
  private async describe(s: Submission): Promise<void> {
    if (s.build === null || s.versionUrl === null) {
      return;
    }
    const link = escapeXml(s.versionUrl);
    try {
      await this.jenkins().setBuildDescription(
        s.job,
        s.build,
        `<a href="${link}">nbstage version of build #${s.build}</a>`,
      );
    } catch (err) {
      const e = asNbstageError(err);
      this.options.log?.('could not set the build description', {
        submission: s.id,
        job: s.job,
        build: s.build,
        code: e.code,
        error: e.message,
      });
    }
  }

  /**
   * A submission of a job.
   *
   * @throws NotFoundError for an unknown (or forgotten) submission
   */
  get(job: string, id: string): Submission {
    const s = this.submissions.get(id);
    if (s === undefined || s.job !== job) {
      throw new NotFoundError(`no submission ${id} of job "${job}"`);
    }
    return { ...s };
  }

  /**
   * Cancels a submission: a queue item still waiting is cancelled, a running build stopped.
   * Resolves to false when the submission had already finished.
   */
  async cancel(job: string, id: string): Promise<boolean> {
    const s = this.submissions.get(id);
    if (s === undefined || s.job !== job) {
      throw new NotFoundError(`no submission ${id} of job "${job}"`);
    }
    if (isFinished(s)) {
      return false;
    }
    const jenkins = this.jenkins();
    if (s.build === null) {
      try {
        await jenkins.cancelQueueItem(s.queueItem);
        return true;
      } catch (err) {
        // It may have left the queue in the meantime: then stop the build it became.
        if (!(err instanceof JenkinsError) || err.jenkinsStatus !== 404) {
          throw err;
        }
        const item = await jenkins.queueItem(s.queueItem);
        if (item.executable === null) {
          return !item.cancelled;
        }
        await jenkins.stopBuild(job, item.executable.number);
        return true;
      }
    }
    await jenkins.stopBuild(job, s.build);
    return true;
  }

  /** The console of a Jenkins build from byte `start` on. */
  async console(job: string, build: number, start: number): Promise<JenkinsConsoleChunk> {
    return this.jenkins().console(job, build, start);
  }

  /** The stored source of a job. */
  async source(job: string): Promise<JobSource> {
    const source = await this.options.sources.load(job);
    if (source === null) {
      throw new NotFoundError(`no notebook was submitted for job "${job}"`);
    }
    return source;
  }

  /**
   * The job's history: its versions (null: none stored) merged with its Jenkins builds. When
   * Jenkins cannot be asked, the versions alone (each with `jenkins: null`).
   *
   * @throws NotFoundError when neither the store nor Jenkins knows the job
   */
  async builds(job: string, versions: BuildVersion[] | null): Promise<MergedBuild[]> {
    let fromJenkins: JenkinsBuild[] | null = null;
    if (this.options.jenkins !== null && jobNameProblem(job) === null) {
      try {
        fromJenkins = await this.options.jenkins.builds(job);
      } catch (err) {
        const e = asNbstageError(err);
        this.options.log?.('Jenkins builds unavailable; versions only', {
          job,
          code: e.code,
          error: e.message,
        });
      }
    }
    // A job submitted here is known even while Jenkins cannot list its builds and none of them
    // has a version yet (it failed before its first stage): its history is empty, not missing.
    if (
      versions === null &&
      fromJenkins === null &&
      (await this.options.sources.load(job)) === null
    ) {
      throw new NotFoundError(`no job "${job}"`);
    }
    return mergeBuilds(versions ?? [], fromJenkins);
  }

  /** Stops following (the Jenkins builds go on); idempotent. */
  async close(): Promise<void> {
    this.controller.abort();
    await Promise.all([...this.followers.values()]);
  }
}
