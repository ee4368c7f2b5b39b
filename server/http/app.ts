/**
 * The HTTP API under /api/v1 (express): runs, their notebooks, reports and artifacts, jobs and
 * their versions, kernels, workers; /healthz, /readyz and /metrics. Every body is validated with
 * ajv against the schemas the OpenAPI document publishes; every error is
 * `{ "error": { "code": "NBSTAGE_...", "message": "..." } }` with its status. Everything under
 * /api is sent as user content (user-content.ts). Route handlers talk to the run manager, the
 * store and the queue only through their interfaces.
 */
import path from 'node:path';
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import type { NbstageError } from '../../pipelines/errors';
import {
  ErrorCode,
  NotFoundError,
  PayloadTooLargeError,
  UnavailableError,
  ValidationError,
  asNbstageError,
} from '../../pipelines/errors';
import type { JSONObject } from '../../pipelines/notebook/model';
import { renderHtml } from '../../pipelines/reports/html';
import { renderJUnit } from '../../pipelines/reports/junit';
import { Authenticator } from '../auth/authenticator';
import { principalOf, requireRole } from '../auth/middleware';
import { principalOrIp, rateLimit } from '../auth/rate-limit';
import type { TokenStore } from '../auth/types';
import type { KernelSpecInfo } from '../../kernels/jupyter-rest';
import type { RunQueue } from '../queue/types';
import type { RunManager } from '../runs/run-manager';
import { runRequestSchema, type RunRequest } from '../runs/run-request';
import { reproduceBuild, reproduceRequestSchema, type ReproduceRequest } from '../runs/reproduce';
import type { VersionStore } from '../store/types';
import type { JobSubmitter } from '../jobs/job-submitter';
import { jenkinsRoutes } from './jenkins-routes';
import { webRoutes } from '../web/routes';
import type { ServiceMetrics } from './metrics';
import type { BlobDir } from '../../pipelines/workspace/blob-dir';
import { hostLabel } from '../queue/labels';
import { blobRoutes, DEFAULT_MAX_BLOB_BYTES } from './blob-routes';
import { bodyField } from './body-field';
import { openApiDocument } from './openapi';
import { notebookBody, notebookUpload, param, wrap } from './route-helpers';
import { REPORT_CSP, sendReportFile, userContentHeaders } from './user-content';

/** Everything the routes need, passed in. */
export interface ServiceContext {
  version: string;
  runs: RunManager;
  store: VersionStore;
  queue: RunQueue;
  tokens: TokenStore;
  /**
   * Checks credentials, with the failed-authentication limit; share it with the run streams.
   * Default: one on `tokens` with the default limits.
   */
  auth?: Authenticator;
  kernels: () => Promise<{ default: string; specs: KernelSpecInfo[] }>;
  /** Whether the in-process workers can get kernels (their Jupyter server is up). */
  kernelsHealth?: () => { ready: boolean; reason?: string };
  metrics: ServiceMetrics;
  /** Largest request body (bytes); default 32 MiB. */
  maxBodyBytes?: number;
  /** Requests per second per principal (burst = 4x); default 50. */
  rateLimitPerSecond?: number;
  /** Whether the service is shutting down (new runs are refused with 503). */
  draining: () => boolean;
  log?: (msg: string, fields?: JSONObject) => void;
  /** Notebooks submitted as Jenkins jobs (routes in jenkins-routes.ts); the builds merge. */
  jobs?: JobSubmitter;
  /** The content store workspaces upload to (blob-routes.ts); none: no blob routes. */
  blobs?: BlobDir;
  /** Most bytes of one uploaded blob; default {@link DEFAULT_MAX_BLOB_BYTES}. */
  maxBlobBytes?: number;
}

const ajv = new Ajv({ allErrors: false, strict: false });
const validateRunRequest = ajv.compile<RunRequest>(runRequestSchema);
const validateReproduceRequest = ajv.compile<ReproduceRequest>(reproduceRequestSchema);

/** `body` checked by `validate`; the error names the offending field. */
function parseBody<T>(validate: ValidateFunction<T>, body: unknown): T {
  if (!validate(body)) {
    const err = validate.errors?.[0];
    const where = bodyField(err);
    const problem =
      err?.propertyName === undefined ? err?.message : `the name ${err.message ?? 'is invalid'}`;
    throw new ValidationError(where, `${where}: ${problem ?? 'invalid'}`);
  }
  return body;
}

/** Validates a run request body; the error names the offending field. */
export function parseRunRequest(body: unknown): RunRequest {
  return parseBody(validateRunRequest, body);
}

/** Builds the express app. */
export function createApp(ctx: ServiceContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const limit = ctx.maxBodyBytes ?? 32 * 1024 * 1024;

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      ctx.metrics.observeRequest(
        req.method,
        req.route?.path ? String(req.route.path) : 'unmatched',
        res.statusCode,
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: ctx.version });
  });
  app.get(
    '/readyz',
    wrap(async (_req, res) => {
      if (ctx.draining()) {
        throw new UnavailableError('the service is shutting down');
      }
      const kernels = ctx.kernelsHealth?.() ?? { ready: true };
      if (!kernels.ready) {
        throw new UnavailableError(`kernels are not available: ${kernels.reason ?? 'unknown'}`);
      }
      const depth = await ctx.queue.depth();
      res.json({ status: 'ready', queue: depth });
    }),
  );

  // Before authentication, so that its refusals carry them too: see user-content.ts.
  app.use('/api', userContentHeaders);
  const auth = ctx.auth ?? new Authenticator({ tokens: ctx.tokens });
  // req.ip (rate limits keyed by address) agrees with the authenticator's client.
  app.set('trust proxy', auth.trustProxy ?? false);
  const read = requireRole(auth, 'read');
  const runRole = requireRole(auth, 'run');
  app.use(['/api', '/metrics'], read);
  const limiter = rateLimit({
    capacity: (ctx.rateLimitPerSecond ?? 50) * 4,
    refillPerSecond: ctx.rateLimitPerSecond ?? 50,
    key: principalOrIp,
  });
  // A workspace's first upload is one request per file (10,000 files: 10,000 PUTs): blob
  // transfers are not counted, as a stream of one big body would not be.
  app.use(['/api', '/metrics'], (req, res, next) =>
    req.originalUrl.startsWith('/api/v1/blobs/') ? next() : limiter(req, res, next),
  );

  app.get(
    '/metrics',
    wrap(async (_req, res) => {
      res.type(ctx.metrics.contentType).send(await ctx.metrics.render());
    }),
  );

  const api = express.Router();
  api.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(ctx.version));
  });

  api.post(
    '/runs',
    runRole,
    ...notebookUpload(limit),
    wrap(async (req, res) => {
      if (ctx.draining()) {
        throw new UnavailableError('the service is shutting down; no new runs');
      }
      const request = parseRunRequest(notebookBody(req));
      const principal = principalOf(res);
      if (principal === undefined) {
        throw new Error('no principal after auth');
      }
      const record = await ctx.runs.create(request, principal);
      ctx.log?.('run created', { run: record.id, job: record.job, by: principal.name });
      res.status(201).location(`/api/v1/runs/${record.id}`).json(record);
    }),
  );
  api.get('/runs', (req, res) => {
    const job = typeof req.query.job === 'string' ? req.query.job : undefined;
    res.json(ctx.runs.list({ job }));
  });
  const run = (req: Request): ReturnType<RunManager['get']> & object => {
    const record = ctx.runs.get(param(req, 'id'));
    if (record === null) {
      throw new NotFoundError(`no run ${param(req, 'id')}`);
    }
    return record;
  };
  api.get('/runs/:id', (req, res) => {
    res.json(run(req));
  });
  api.post(
    '/runs/:id/cancel',
    runRole,
    wrap(async (req, res) => {
      const record = run(req);
      const principal = principalOf(res);
      if (principal === undefined) {
        throw new Error('no principal after auth');
      }
      const cancelled = await ctx.runs.cancel(record.id, principal);
      if (!cancelled) {
        res.status(409).json({
          error: {
            code: ErrorCode.cancelled,
            message: `run ${record.id} is already ${record.state}`,
          },
        });
        return;
      }
      ctx.log?.('run cancelled', { run: record.id, by: principal.name });
      res.status(202).json({ id: record.id, cancelling: true });
    }),
  );
  const notebookOf = (req: Request): NonNullable<ReturnType<RunManager['notebook']>> => {
    const nb = ctx.runs.notebook(run(req).id);
    if (nb === null) {
      throw new NotFoundError(`run ${param(req, 'id')} has no notebook yet`);
    }
    return nb;
  };
  api.get('/runs/:id/notebook', (req, res) => {
    res.type('application/x-ipynb+json').send(JSON.stringify(notebookOf(req)));
  });
  api.get('/runs/:id/junit', (req, res) => {
    const record = run(req);
    const name = record.notebookName.replace(/\.[^.]+$/, '');
    res
      .type('application/xml')
      .send(renderJUnit(notebookOf(req), { suiteName: name, notebookName: name }));
  });
  const report = (req: Request): ReturnType<typeof renderHtml> =>
    renderHtml(notebookOf(req), { title: run(req).notebookName, assetsDirName: 'report_files' });
  api.get('/runs/:id/html', (req, res) => {
    res.type('text/html').set('Content-Security-Policy', REPORT_CSP).send(report(req).html);
  });
  api.get('/runs/:id/report_files/:name', (req, res) => {
    const wanted = `report_files/${param(req, 'name')}`;
    const asset = report(req).assets.find((a) => a.name === wanted);
    if (asset === undefined) {
      throw new NotFoundError(`no report file ${param(req, 'name')}`);
    }
    sendReportFile(res, asset.name, asset.data);
  });
  api.get('/runs/:id/artifacts', (req, res) => {
    res.json(run(req).artifacts);
  });
  api.get('/runs/:id/artifacts/*name', (req, res) => {
    const record = run(req);
    const name = param(req, 'name');
    // Looked up by exact name in the run's list: a path never reaches the file system.
    const artifact = record.artifacts.find((a) => a.name === name);
    const file = artifact?.sha256 === undefined ? null : ctx.store.artifactPath(artifact.sha256);
    if (artifact === undefined || file === null) {
      throw new NotFoundError(`run ${record.id} has no artifact "${name}"`);
    }
    // The path comes from the store, never from the request; the home may be a dot folder
    // (`.nbstage`), which send() would otherwise refuse.
    res.attachment(path.basename(name)).sendFile(file, { dotfiles: 'allow' });
  });

  api.get(
    '/jobs',
    wrap(async (_req, res) => {
      res.json(await ctx.store.listJobs());
    }),
  );
  api.get(
    '/jobs/:job/builds',
    wrap(async (req, res) => {
      const job = param(req, 'job');
      const jobs = await ctx.store.listJobs();
      const versions = jobs.includes(job) ? await ctx.store.listBuilds(job) : null;
      if (ctx.jobs !== undefined) {
        // Merged with the job's Jenkins builds (server/jobs/build-merge.ts).
        res.json(await ctx.jobs.builds(job, versions));
        return;
      }
      if (versions === null) {
        throw new NotFoundError(`no job "${job}"`);
      }
      res.json(versions);
    }),
  );
  api.get(
    '/jobs/:job/builds/:build',
    wrap(async (req, res) => {
      const shown = await ctx.store.show(param(req, 'job'), param(req, 'build'));
      res.json({ run: shown.run, commit: shown.commit, tag: shown.tag });
    }),
  );
  api.get(
    '/jobs/:job/builds/:build/notebook',
    wrap(async (req, res) => {
      const shown = await ctx.store.show(param(req, 'job'), param(req, 'build'));
      res.type('application/x-ipynb+json').send(JSON.stringify(shown.notebook));
    }),
  );
  api.post(
    '/jobs/:job/builds/:build/reproduce',
    runRole,
    express.json({ limit: '4mb', strict: false }),
    wrap(async (req, res) => {
      if (ctx.draining()) {
        throw new UnavailableError('the service is shutting down; no new runs');
      }
      const body = parseBody(validateReproduceRequest, req.body ?? {});
      const principal = principalOf(res);
      if (principal === undefined) {
        throw new Error('no principal after auth');
      }
      const job = param(req, 'job');
      const build = param(req, 'build');
      const record = await reproduceBuild(ctx, job, build, body, principal);
      ctx.log?.('run created', { run: record.id, job, reproduces: build, by: principal.name });
      res.status(201).location(`/api/v1/runs/${record.id}`).json(record);
    }),
  );
  api.get(
    '/jobs/:job/diff',
    wrap(async (req, res) => {
      const a = req.query.a;
      const b = req.query.b;
      if (typeof a !== 'string' || typeof b !== 'string' || a === '' || b === '') {
        throw new ValidationError('query.a', 'query.a and query.b must name two builds');
      }
      res.json(await ctx.store.diff(param(req, 'job'), a, b));
    }),
  );
  api.get(
    '/kernels',
    wrap(async (_req, res) => {
      res.json(await ctx.kernels());
    }),
  );
  api.post(
    '/sessions/:session/close',
    runRole,
    wrap(async (req, res) => {
      const session = param(req, 'session');
      if (session.length === 0 || session.length > 200) {
        throw new ValidationError('session', 'session: 1 to 200 characters');
      }
      const principal = principalOf(res);
      if (principal === undefined) {
        throw new Error('no principal after auth');
      }
      const closed = await ctx.runs.closeSession(session, principal);
      ctx.log?.(closed ? 'session closed' : 'session closing', { session, by: principal.name });
      res.status(closed ? 200 : 202).json({ session, closed });
    }),
  );
  api.get(
    '/workers',
    wrap(async (_req, res) => {
      res.json(await ctx.queue.workers());
    }),
  );
  if (ctx.blobs !== undefined) {
    app.use(
      '/api/v1',
      blobRoutes({
        blobs: ctx.blobs,
        runRole,
        maxBlobBytes: ctx.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES,
        draining: ctx.draining,
        inPlaceWorker: async (hostId, labels) => {
          const workers = await ctx.queue.workers();
          const host = hostLabel(hostId);
          const ofHost = workers.filter((w) => w.labels.includes(host));
          return labels.find((l) => ofHost.some((w) => w.labels.includes(l))) ?? null;
        },
      }),
    );
  }
  app.use('/api/v1', api);
  app.use('/api/v1', jenkinsRoutes({ jobs: ctx.jobs, auth, draining: ctx.draining }));
  // The web page (`/`, `/jobs/...`, `/runs/...`, `/login`): see server/web/routes.ts.
  app.use(webRoutes({ ...ctx, auth }));

  app.use((req, _res, next) => {
    next(new NotFoundError(`no route ${req.method} ${req.path}`));
  });
  // Express's error handler signature needs all four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    let error: NbstageError;
    const e = err as { type?: string; status?: number; code?: string; message?: string };
    if (e?.type === 'entity.too.large' || e?.code === 'LIMIT_FILE_SIZE') {
      error = new PayloadTooLargeError(`request body over the limit of ${limit} bytes`);
    } else if (e?.type === 'entity.parse.failed') {
      error = new ValidationError('body', `body: not valid JSON (${e.message ?? ''})`);
    } else if (e instanceof multer.MulterError) {
      error = new ValidationError(e.field ?? 'upload', `upload: ${e.message}`);
    } else {
      error = asNbstageError(err);
    }
    if (error.status >= 500) {
      ctx.log?.('request failed', {
        code: error.code,
        error: String((err as Error)?.stack ?? err),
      });
    }
    const body =
      error.status >= 500 && error.code === ErrorCode.internal
        ? { error: { code: error.code, message: 'internal error (see the service log)' } }
        : error.toJSON();
    // A route may have set its own type (HTML, ipynb, XML) before it failed: errors are JSON.
    res.status(error.status).type('application/json').json(body);
  });
  return app;
}
