/**
 * The Jenkins side of the HTTP API, mounted under /api/v1 by app.ts: submit a notebook as a
 * Jenkins job (`POST /jobs`), follow and cancel the submission, read a build's Jenkins console,
 * and the stored source notebook agents fetch. The handlers talk to Jenkins only through the
 * JobSubmitter they are given.
 */
import express from 'express';
import {
  ErrorCode,
  JenkinsNotConfiguredError,
  UnavailableError,
  ValidationError,
} from '../../pipelines/errors';
import { principalOf, requireRole } from '../auth/middleware';
import type { Authenticator } from '../auth/authenticator';
import type { JobSubmitter } from '../jobs/job-submitter';
import { MAX_SOURCE_BYTES } from '../jobs/job-sources';
import { parseSubmitRequest } from '../jobs/submit-request';
import { notebookUpload, notebookBody, param, wrap } from './route-helpers';

/** What the Jenkins routes need. */
export interface JenkinsRoutesContext {
  /** The submit flow; without it (an app built without Jenkins support) every route answers 503. */
  jobs: JobSubmitter | undefined;
  /** Checks credentials (the app's, shared with its other routes). */
  auth: Authenticator;
  /** Whether the service is shutting down (new submissions are refused with 503). */
  draining: () => boolean;
}

function positiveInteger(text: string, field: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw new ValidationError(field, `${field}: must be a non-negative integer, got "${text}"`);
  }
  return Number(text);
}

/** The submission's status resource. */
function submissionPath(job: string, id: string): string {
  return `/api/v1/jobs/${encodeURIComponent(job)}/submissions/${id}`;
}

/** The router; the app mounts it under /api/v1 after authentication (role read). */
export function jenkinsRoutes(ctx: JenkinsRoutesContext): express.Router {
  const router = express.Router();
  const jobs = (): JobSubmitter => {
    if (ctx.jobs === undefined) {
      throw new JenkinsNotConfiguredError();
    }
    return ctx.jobs;
  };
  const runRole = requireRole(ctx.auth, 'run');

  router.post(
    '/jobs',
    runRole,
    ...notebookUpload(MAX_SOURCE_BYTES, MAX_SOURCE_BYTES + 1024 * 1024),
    wrap(async (req, res) => {
      if (ctx.draining()) {
        throw new UnavailableError('the service is shutting down; no new submissions');
      }
      const request = parseSubmitRequest(notebookBody(req));
      const principal = principalOf(res);
      if (principal === undefined) {
        throw new Error('no principal after auth');
      }
      const submission = await jobs().submit(request, { name: principal.name });
      res.status(202).location(submissionPath(submission.job, submission.id)).json(submission);
    }),
  );

  router.get('/jobs/:job/submissions/:id', (req, res) => {
    res.json(jobs().get(param(req, 'job'), param(req, 'id')));
  });

  router.post(
    '/jobs/:job/submissions/:id/cancel',
    runRole,
    wrap(async (req, res) => {
      const job = param(req, 'job');
      const id = param(req, 'id');
      if (!(await jobs().cancel(job, id))) {
        const s = jobs().get(job, id);
        res.status(409).json({
          error: { code: ErrorCode.cancelled, message: `submission ${id} is already ${s.state}` },
        });
        return;
      }
      res.status(202).json({ ...jobs().get(job, id), cancelling: true });
    }),
  );

  router.get(
    '/jobs/:job/source',
    wrap(async (req, res) => {
      const source = await jobs().source(param(req, 'job'));
      res
        .type(/\.ipynb$/i.test(source.name) ? 'application/x-ipynb+json' : 'application/json')
        .set('X-Notebook-Name', encodeURIComponent(source.name))
        .set('X-Notebook-Sha256', source.sha256)
        .attachment(source.name)
        .send(source.content);
    }),
  );

  router.get(
    '/jobs/:job/builds/:build/console',
    wrap(async (req, res) => {
      const build = positiveInteger(param(req, 'build'), 'build');
      const startText = typeof req.query.start === 'string' ? req.query.start : '0';
      const start = positiveInteger(startText, 'query.start');
      const chunk = await jobs().console(param(req, 'job'), build, start);
      res
        .type('text/plain; charset=utf-8')
        .set('X-Text-Size', String(chunk.size))
        .set('X-More-Data', String(chunk.more))
        .send(chunk.text);
    }),
  );

  return router;
}
