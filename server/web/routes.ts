/**
 * The web page's routes, mounted at `/` by the HTTP app: `/login` and `/logout`, `/assets/*`, and
 * the pages, which need a logged-in token (else they redirect to `/login?next=...`):
 *
 * - `/`                              jobs, and runs (in flight first)
 * - `/jobs/:job`                     a job's builds, a compare form and metric trends
 * - `/jobs/:job/builds/:build`       one stored build as a notebook (Jenkins links here)
 * - `/jobs/:job/diff?a=A&b=B`        two builds side by side
 * - `/runs/:id`                      a run, live; `/runs/:id/cells[/:index]` are its cells as
 *                                    HTML fragments for the page's script
 *
 * The job is one path segment, encodeURIComponent-encoded (names hold `/` and spaces). Page
 * errors are pages, not JSON. Routes talk to the run manager and the store through their
 * interfaces only, as the API does.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { asNbstageError, ErrorCode, NotFoundError, ValidationError } from '../../pipelines/errors';
import { escapeHtml } from '../../pipelines/reports/ansi';
import type { JSONObject, Notebook } from '../../pipelines/notebook/model';
import { principalOf } from '../auth/middleware';
import { principalOrIp, rateLimit } from '../auth/rate-limit';
import type { Authenticator } from '../auth/authenticator';
import { roleAllows, type Principal } from '../auth/types';
import type { RunManager } from '../runs/run-manager';
import type { VersionStore } from '../store/types';
import { serveAsset } from './assets';
import { PAGE_CSP, renderPage, sendPage } from './layout';
import { diffPage } from './pages/diff-page';
import { jobPage } from './pages/job-page';
import { jobsPage } from './pages/jobs-page';
import { runClipLinks, runPage } from './pages/run-page';
import { versionPage } from './pages/version-page';
import { renderCell, renderCells } from './notebook-view';
import { postLogin, postLogout, requireLogin, showLogin, showLogout } from './login';

/** What the pages need, passed in (the HTTP app's context has all of it). */
export interface WebContext {
  runs: RunManager;
  store: VersionStore;
  /** Checks credentials (the app's, shared with the API and the run streams). */
  auth: Authenticator;
  /** Requests per second per token (burst = 4x), as for the API; default 50. */
  rateLimitPerSecond?: number;
  log?: (msg: string, fields?: JSONObject) => void;
}

/** Runs shown on the jobs page besides those in flight. */
const RECENT_RUNS = 10;

function param(req: Request, name: string): string {
  const value = req.params[name];
  return Array.isArray(value) ? value.join('/') : String(value ?? '');
}

function principal(res: Response): Principal {
  const who = principalOf(res);
  if (who === undefined) {
    throw new Error('no principal after login check');
  }
  return who;
}

/** How far a run is, from its logged events. */
/** Builds the router of the web page. */
export function webRoutes(ctx: WebContext): express.Router {
  const router = express.Router();
  const perSecond = ctx.rateLimitPerSecond ?? 50;
  const limit = rateLimit({
    capacity: perSecond * 4,
    refillPerSecond: perSecond,
    key: principalOrIp,
  });
  const page = [requireLogin(ctx.auth), limit];
  const fragment = [requireLogin(ctx.auth, true), limit];
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.get('/assets/:name', serveAsset);
  router.get('/login', showLogin);
  router.post('/login', limit, form, postLogin(ctx.auth));
  router.get('/logout', showLogout);
  router.post('/logout', postLogout(ctx.auth));

  router.get('/', ...page, async (_req, res) => {
    const names = await ctx.store.listJobs();
    const jobs = await Promise.all(
      names.map(async (name) => ({ name, builds: await ctx.store.listBuilds(name) })),
    );
    const all = ctx.runs.list();
    const inFlight = all.filter((r) => r.state === 'queued' || r.state === 'running');
    const recent = all.filter((r) => !inFlight.includes(r)).slice(0, RECENT_RUNS);
    sendPage(
      res,
      200,
      jobsPage({ principal: principal(res), jobs, runs: [...inFlight, ...recent] }),
    );
  });

  router.get('/jobs/:job', ...page, async (req, res) => {
    const job = param(req, 'job');
    const runs = ctx.runs
      .list({ job })
      .filter((r) => r.state === 'queued' || r.state === 'running');
    const known = (await ctx.store.listJobs()).includes(job);
    if (!known && runs.length === 0) {
      throw new NotFoundError(`no job "${job}"`);
    }
    const builds = known ? await ctx.store.listBuilds(job) : [];
    sendPage(res, 200, jobPage({ principal: principal(res), job, builds, runs }));
  });

  router.get('/jobs/:job/builds/:build', ...page, async (req, res) => {
    const job = param(req, 'job');
    const build = param(req, 'build');
    const shown = await ctx.store.show(job, build);
    const builds = await ctx.store.listBuilds(job);
    sendPage(res, 200, versionPage({ principal: principal(res), job, build, shown, builds }));
  });

  router.get('/jobs/:job/diff', ...page, async (req, res) => {
    const job = param(req, 'job');
    const { a, b } = req.query;
    if (typeof a !== 'string' || typeof b !== 'string' || a === '' || b === '') {
      throw new ValidationError('query.a', 'name two builds to compare: ?a=BUILD&b=BUILD');
    }
    const diff = await ctx.store.diff(job, a, b);
    const builds = await ctx.store.listBuilds(job);
    sendPage(res, 200, diffPage({ principal: principal(res), diff, builds }));
  });

  const runOf = (req: Request): ReturnType<RunManager['get']> & object => {
    const record = ctx.runs.get(param(req, 'id'));
    if (record === null) {
      throw new NotFoundError(`no run ${param(req, 'id')}`);
    }
    return record;
  };

  router.get('/runs/:id', ...page, (req, res) => {
    const record = runOf(req);
    // Read together, in one turn of the event loop: the page shows exactly `seq` events.
    const { notebook, progress, seq } = ctx.runs.snapshot(record.id);
    const who = principal(res);
    sendPage(
      res,
      200,
      runPage({
        principal: who,
        record,
        notebook,
        seq,
        progress,
        canCancel: roleAllows(who.role, 'run'),
      }),
    );
  });

  const sendFragment = (res: Response, html: string): void => {
    res
      .status(200)
      .type('text/html; charset=utf-8')
      .set({ 'Content-Security-Policy': PAGE_CSP, 'Cache-Control': 'no-store' })
      .send(html);
  };
  /** A run's notebook as it stands and its cells still to end, read in one turn. */
  const runNow = (req: Request): { notebook: Notebook | null; pending: Set<number> } => {
    const { notebook, progress } = ctx.runs.snapshot(runOf(req).id);
    return { notebook, pending: progress.pending };
  };
  router.get('/runs/:id/cells', ...fragment, (req, res) => {
    const { notebook, pending } = runNow(req);
    const links = runClipLinks(param(req, 'id'));
    sendFragment(res, notebook === null ? '' : renderCells(notebook, pending, links));
  });
  router.get('/runs/:id/cells/:index', ...fragment, (req, res) => {
    const { notebook, pending } = runNow(req);
    const index = Number(param(req, 'index'));
    if (
      notebook === null ||
      !Number.isInteger(index) ||
      index < 0 ||
      index >= notebook.cells.length
    ) {
      throw new NotFoundError(`run ${param(req, 'id')} has no cell ${param(req, 'index')}`);
    }
    sendFragment(res, renderCell(notebook, index, pending, runClipLinks(param(req, 'id'))));
  });

  // Errors of the pages are pages (the API's are JSON, in the app's own handler).
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const error = asNbstageError(err);
    if (error.status >= 500) {
      ctx.log?.('page failed', { path: req.path, error: String((err as Error)?.stack ?? err) });
    }
    const message =
      error.status >= 500 && error.code === ErrorCode.internal
        ? 'Something went wrong on the server (see the service log).'
        : error.message;
    const who = principalOf(res) ?? null;
    sendPage(
      res,
      error.status,
      renderPage({
        title: error.status === 404 ? 'Not found' : 'Error',
        principal: who,
        body:
          `<section class="panel error-page"><h1>${error.status === 404 ? 'Not found' : 'Something is wrong'}</h1>` +
          `<p>${escapeHtml(message)}</p><p><a href="/">All jobs</a></p></section>`,
      }),
    );
  });
  return router;
}
