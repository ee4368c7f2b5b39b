/**
 * Every route of the HTTP API through supertest on one real service: health, metrics, the
 * OpenAPI document (and that it lists exactly the routes the app serves), runs as JSON and as a
 * multipart upload, their notebook, JUnit, HTML report and artifacts, jobs and their builds
 * (a job name with slashes), the diff of two builds (its environment as documented), kernels and
 * workers.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Ajv from 'ajv';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import { BlobDir } from '../../../pipelines/workspace/blob-dir';
import { memoryTokenStore } from '../../../server/auth/tokens';
import { createApp } from '../../../server/http/app';
import { createServiceMetrics } from '../../../server/http/metrics';
import { inProcessBackend } from '../../../server/queue';
import { RunManager } from '../../../server/runs/run-manager';
import type { ServiceRun } from '../../../server/runs/service-run';
import { openVersionStore } from '../../../server/store/git-version-store';
import { cellText, makeNotebook, tempDir } from '../../helpers/notebooks';
import { findAll, parseXml, htmlTags } from '../../unit/reports/python-parsers';
import { bearer, jobPath, openStream, settled, useService } from './service-fixture';

/** A GET whose path goes on the wire exactly as given. */
function rawGet(
  base: string,
  route: string,
  token: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const headers = { Authorization: bearer(token) };
    const req = http.get({ hostname, port, path: route, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const metricNotebook = (): Notebook =>
  makeNotebook([
    { source: 'acc = 0.1', tags: ['parameters'] },
    'from nbstage import record\nrecord("accuracy", acc)\nprint("acc", acc)',
    'import os, pathlib\n' +
      'd = pathlib.Path(os.environ["NBSTAGE_ARTIFACTS"]) / "plots"\n' +
      'd.mkdir(parents=True, exist_ok=True)\n' +
      '(d / "loss.txt").write_text(f"loss {1 - acc}\\n")',
    { source: '# Report\n\nSome *markdown*.', type: 'markdown' },
  ]);

describe('HTTP API routes', () => {
  // Where `nbstage serve` keeps its home by default: a dot folder.
  const svc = useService({ home: path.join(tempDir(), '.nbstage') });
  const job = `team/ml/test-${randomUUID()} nightly`;
  let first: ServiceRun;
  let second: ServiceRun;
  let created: request.Response;

  const get = (route: string, token = svc().read): request.Test =>
    request(svc().url).get(route).set('Authorization', bearer(token));

  beforeAll(async () => {
    const post = (build: string, acc: number): request.Test =>
      request(svc().url).post('/api/v1/runs').set('Authorization', bearer(svc().run)).send({
        notebook: metricNotebook(),
        notebookName: 'train.ipynb',
        job,
        build,
        parameters: { acc },
      });
    const [a, b] = await Promise.all([post('1', 0.5), post('2', 0.75)]);
    created = a;
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    first = await settled(svc(), a.body.id);
    second = await settled(svc(), b.body.id);
  });

  it('answers /healthz and /readyz without a token', async () => {
    const health = await request(svc().url).get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', version: expect.any(String) });
    const ready = await request(svc().url).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', queue: expect.any(Object) });
  });

  it('creates a run from a JSON body: 201, Location, the queued record', () => {
    expect(created.headers.location).toBe(`/api/v1/runs/${created.body.id}`);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      state: expect.stringMatching(/^(queued|running)$/),
      job,
      build: '1',
      notebookName: 'train.ipynb',
      parameters: { acc: 0.5 },
      createdBy: svc().runName,
      version: null,
    });
    expect(first).toMatchObject({ state: 'completed', exitCode: 0, error: null });
    expect(second).toMatchObject({ state: 'completed', exitCode: 0, error: null });
  });

  it('creates a run from a multipart upload with an options field', async () => {
    const nb = makeNotebook(['print("uploaded", greeting)']);
    const uploadJob = `test-${randomUUID()}`;
    const res = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .attach('notebook', Buffer.from(JSON.stringify(nb)), 'upload.ipynb')
      .field(
        'options',
        JSON.stringify({ job: uploadJob, build: '7', parameters: { greeting: 'hi' } }),
      );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      notebookName: 'upload.ipynb',
      job: uploadJob,
      build: '7',
      parameters: { greeting: 'hi' },
    });
    const done = await settled(svc(), res.body.id);
    expect(done.state).toBe('completed');
    const out = await get(`/api/v1/runs/${done.id}/notebook`);
    expect(cellText(out.body as Notebook, out.body.cells.length - 1)).toBe('uploaded hi\n');
  });

  it('lists runs, newest first, filtered by job', async () => {
    const all = await get('/api/v1/runs');
    expect(all.status).toBe(200);
    const ids = (all.body as ServiceRun[]).map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([first.id, second.id]));
    const times = (all.body as ServiceRun[]).map((r) => r.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    const mine = await get(`/api/v1/runs?job=${encodeURIComponent(job)}`);
    expect((mine.body as ServiceRun[]).map((r) => r.id).sort()).toEqual(
      [first.id, second.id].sort(),
    );
  });

  it('shows a finished run with its metrics, version and artifacts', async () => {
    const res = await get(`/api/v1/runs/${first.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: first.id,
      state: 'completed',
      metrics: { accuracy: 0.5 },
      version: {
        commit: expect.stringMatching(/^[0-9a-f]{40}$/),
        tag: expect.stringMatching(/\/1$/),
      },
      artifacts: [{ name: 'plots/loss.txt', size: 9, sha256: expect.any(String) }],
    });
  });

  it('serves the executed notebook', async () => {
    const res = await get(`/api/v1/runs/${first.id}/notebook`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ipynb\+json/);
    const nb = JSON.parse(res.text) as Notebook;
    const printing = nb.cells.findIndex((c) => String(c.source).includes('print("acc"'));
    expect(cellText(nb, printing)).toContain('acc 0.5\n');
    expect(nb.metadata.nbstage).toMatchObject({ status: 'completed', job, build: '1' });
  });

  it('serves well-formed JUnit XML, one test case per code cell, metrics as properties', async () => {
    const res = await get(`/api/v1/runs/${first.id}/junit`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/xml/);
    const root = parseXml(res.text);
    expect(findAll(root, 'testcase')).toHaveLength(4);
    expect(findAll(root, 'failure')).toHaveLength(0);
    const props = findAll(root, 'property').map((p) => [p.attrs.name, p.attrs.value]);
    expect(props).toContainEqual(['metric.accuracy', '0.5']);
  });

  it('serves the HTML report under a strict CSP, without scripts, its stylesheet beside it', async () => {
    const res = await get(`/api/v1/runs/${first.id}/html`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toBe(
      "sandbox allow-same-origin; default-src 'none'; img-src 'self'; style-src 'self';",
    );
    expect(res.text).not.toMatch(/<script/i);
    const tags = htmlTags(res.text);
    expect(tags.filter((t) => t.tag === 'script')).toEqual([]);
    const links = tags.filter((t) => t.tag === 'link').map((t) => Object.fromEntries(t.attrs).href);
    expect(links).toContain('report_files/report.css');
    expect(res.text).toContain('acc 0.5');
    const css = await get(`/api/v1/runs/${first.id}/report_files/report.css`);
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.text.length).toBeGreaterThan(100);
    const missing = await get(`/api/v1/runs/${first.id}/report_files/nope.css`);
    expect(missing.status).toBe(404);
  });

  it('lists and serves the artifacts the notebook wrote', async () => {
    const list = await get(`/api/v1/runs/${first.id}/artifacts`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual([{ name: 'plots/loss.txt', size: 9, sha256: expect.any(String) }]);
    const file = await get(`/api/v1/runs/${first.id}/artifacts/plots/loss.txt`);
    expect(file.status).toBe(200);
    expect(file.headers['content-disposition']).toMatch(/attachment; filename="?loss\.txt"?$/);
    expect(file.headers['content-type']).toMatch(/^text\/plain/);
    expect(file.text).toBe('loss 0.5\n');
    const other = await get(`/api/v1/runs/${second.id}/artifacts/plots/loss.txt`);
    expect(other.text).toBe('loss 0.25\n');
  });

  it('never reads the file system for an artifact name that is a path', async () => {
    const home = svc().home;
    // Files that exist, named relative to where artifacts and runs live, and absolutely.
    const sha = (first.artifacts[0] as { sha256: string }).sha256;
    const secret = `test-${randomUUID()}`;
    fs.writeFileSync(path.join(home, 'runs', first.id, 'planted.txt'), secret);
    const names = [
      '..%2Fplanted.txt',
      '..%2F..%2F..%2Ftokens.json',
      '%2E%2E%2F%2E%2E%2Frun.json',
      encodeURIComponent(path.join(home, 'runs', first.id, 'planted.txt')),
      encodeURIComponent('/etc/passwd'),
      `plots%2F..%2F..%2F${first.id}%2Fplanted.txt`,
      sha,
      `sha256/${sha}`,
      'plots',
    ];
    for (const name of names) {
      const res = await get(`/api/v1/runs/${first.id}/artifacts/${name}`);
      expect([name, res.status]).toEqual([name, 404]);
      expect(res.body.error.code).toBe('NBSTAGE_NOT_FOUND');
      expect(res.text).not.toContain(secret);
      expect(res.text).not.toContain('root:');
    }
    // Unencoded dot segments, sent as they are (node:http does not normalise the path).
    const raw = await rawGet(
      svc().url,
      `/api/v1/runs/${first.id}/artifacts/../../../../tokens.json`,
      svc().read,
    );
    expect(raw.status).toBe(404);
    expect(raw.body).not.toContain('hash');
  });

  it('lists jobs and the builds of a job whose name has slashes and spaces', async () => {
    const jobs = await get('/api/v1/jobs');
    expect(jobs.status).toBe(200);
    expect(jobs.body).toContain(job);
    const builds = await get(`/api/v1/jobs/${jobPath(job)}/builds`);
    expect(builds.status).toBe(200);
    expect(builds.body).toMatchObject([
      { build: '2', status: 'completed', tag: second.version?.tag, metrics: { accuracy: 0.75 } },
      { build: '1', status: 'completed', tag: first.version?.tag, metrics: { accuracy: 0.5 } },
    ]);
    expect(builds.body[1].runIds).toEqual([first.id]);
  });

  it('shows one build and its versioned notebook', async () => {
    const shown = await get(`/api/v1/jobs/${jobPath(job)}/builds/1`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      run: { id: first.id, status: 'completed', metrics: { accuracy: 0.5 } },
      commit: first.version?.commit,
      tag: first.version?.tag,
    });
    const nb = await get(`/api/v1/jobs/${jobPath(job)}/builds/1/notebook`);
    expect(nb.status).toBe(200);
    expect(nb.headers['content-type']).toMatch(/^application\/x-ipynb\+json/);
    const notebook = JSON.parse(nb.text) as Notebook;
    expect(notebook.cells.map((_, i) => cellText(notebook, i)).join('')).toContain('acc 0.5');
    expect((await get(`/api/v1/jobs/${jobPath(job)}/builds/99`)).status).toBe(404);
  });

  it('diffs two builds: the metric and the printed value changed', async () => {
    const res = await get(`/api/v1/jobs/${jobPath(job)}/diff?a=1&b=2`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      job,
      a: { build: '1', commit: first.version?.commit },
      b: { build: '2', commit: second.version?.commit },
      status: { a: 'completed', b: 'completed', changed: false },
      metrics: [{ name: 'accuracy', a: 0.5, b: 0.75 }],
      parameters: [{ name: 'acc', a: 0.5, b: 0.75 }],
    });
    const outputs = (res.body.cells as { outputs: { a: string | null; b: string | null }[] }[])
      .flatMap((c) => c.outputs)
      .map((o) => [o.a, o.b]);
    expect(outputs).toContainEqual(['acc 0.5\n', 'acc 0.75\n']);
    // One kernel ran both: the same environment, as the OpenAPI document describes it.
    expect(res.body.environment).toMatchObject({
      packages: { added: [], removed: [], changed: [] },
      changes: [],
      recorded: { a: true, b: true },
    });
    const doc = (await get('/api/v1/openapi.json')).body;
    const documented = doc.paths['/api/v1/jobs/{job}/diff'].get.responses['200'].content[
      'application/json'
    ].schema as object;
    const validate = new Ajv({ strict: false }).compile(documented);
    expect(validate(res.body)).toBe(true);
    expect(validate({ ...res.body, environment: { changes: [] } })).toBe(false);
    const missing = await get(`/api/v1/jobs/${jobPath(job)}/diff?a=1`);
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/query\.b/);
  });

  it('lists kernels and workers', async () => {
    const kernels = await get('/api/v1/kernels');
    expect(kernels.status).toBe(200);
    expect(kernels.body.specs.map((s: { name: string }) => s.name)).toContain('python3');
    const workers = await get('/api/v1/workers');
    expect(workers.status).toBe(200);
    expect(Array.isArray(workers.body)).toBe(true);
    expect(workers.body.length).toBeGreaterThanOrEqual(1);
  });

  it('serves Prometheus metrics: queue depth, runs by state, cell durations', async () => {
    expect((await request(svc().url).get('/metrics')).status).toBe(401);
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^# TYPE nbstage_queue_depth gauge$/m);
    expect(res.text).toMatch(/^nbstage_queue_depth\{state="queued"\} \d+$/m);
    const completed = /^nbstage_runs_total\{state="completed"\} (\d+)$/m.exec(res.text);
    expect(Number(completed?.[1])).toBeGreaterThanOrEqual(2);
    const cells = /^nbstage_cell_duration_seconds_count\{status="ok"\} (\d+)$/m.exec(res.text);
    expect(Number(cells?.[1])).toBeGreaterThanOrEqual(6);
    expect(res.text).toMatch(
      /^nbstage_cell_duration_seconds_bucket\{le="0\.5",status="ok"\} \d+$/m,
    );
  });

  describe('the OpenAPI document', () => {
    type Operation = { responses: Record<string, unknown>; security?: unknown[] };
    type Document = {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Operation>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    let doc: Document;

    beforeAll(async () => {
      const res = await get('/api/v1/openapi.json');
      expect(res.status).toBe(200);
      doc = res.body as Document;
    });

    it('is OpenAPI 3.1 with bearer security, an error schema and responses for every operation', () => {
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info).toMatchObject({ title: 'nbstage', version: expect.any(String) });
      expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
      expect(doc.components.schemas.Error).toBeDefined();
      expect(doc.components.schemas.RunRequest).toMatchObject({ required: ['notebook'] });
      for (const [route, ops] of Object.entries(doc.paths)) {
        expect(route).toMatch(/^\//);
        for (const [method, op] of Object.entries(ops)) {
          expect(['get', 'post', 'put', 'delete']).toContain(method);
          expect(Object.keys(op.responses).length).toBeGreaterThan(0);
          const params = [...route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
          const declared = (
            (op as { parameters?: { name: string; in: string }[] }).parameters ?? []
          )
            .filter((p) => p.in === 'path')
            .map((p) => p.name);
          expect([route, declared.sort()]).toEqual([route, params.sort()]);
        }
      }
    });

    it('documents every route the app serves, and nothing else', async () => {
      const home = tempDir();
      const backend = inProcessBackend();
      const queue = backend.queue();
      const store = await openVersionStore(home);
      const runs = new RunManager({ home, queue, store });
      try {
        const app = createApp({
          version: 'test',
          runs,
          store,
          queue,
          tokens: memoryTokenStore(),
          metrics: createServiceMetrics({ queue }),
          kernels: async () => ({ default: '', specs: [] }),
          draining: () => false,
          blobs: new BlobDir(tempDir()),
        });
        type Layer = {
          rawPath?: string;
          route?: { path: string; methods: Record<string, boolean> };
          handle: { stack?: Layer[] };
        };
        const served: string[] = [];
        const walk = (stack: Layer[], prefix: string): void => {
          for (const layer of stack) {
            if (layer.route !== undefined) {
              const openapiPath = `${prefix}${layer.route.path}`
                .replace(/:(\w+)/g, '{$1}')
                .replace(/\*(\w+)/g, '{$1}');
              for (const method of Object.keys(layer.route.methods)) {
                served.push(`${method} ${openapiPath}`);
              }
            } else if (layer.handle.stack !== undefined && layer.rawPath !== undefined) {
              walk(layer.handle.stack, layer.rawPath);
            }
          }
        };
        walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
        // The web page's routes (server/web) are pages, not API: OpenAPI documents the API.
        const api = served.filter((r) => /^\w+ \/(api\/|healthz$|readyz$|metrics$)/.test(r));
        expect(served.filter((r) => !api.includes(r))).toContain('get //jobs/{job}');
        const documented = Object.entries(doc.paths)
          .flatMap(([route, ops]) => Object.keys(ops).map((m) => `${m} ${route}`))
          // The run stream is a websocket upgrade, served beside express (tested below).
          .filter((r) => r !== 'get /api/v1/runs/{id}/stream');
        expect(api.sort()).toEqual(documented.sort());
      } finally {
        runs.close();
        await queue.close();
        await store.close();
      }
    });

    it('every documented operation answers on this service with a documented success status', async () => {
      const values: Record<string, string> = {
        id: first.id,
        job: jobPath(job),
        build: '1',
        name: 'plots/loss.txt',
      };
      const queries: Record<string, string> = { '/api/v1/jobs/{job}/diff': '?a=1&b=2' };
      values.session = `test-${randomUUID()}`;
      const blob = Buffer.from(`test-${randomUUID()}`);
      values.sha256 = createHash('sha256').update(blob).digest('hex');
      // This service has no Jenkins: the routes of submitted jobs answer with documented errors
      // (test/integration/jenkins covers their successes against the Jenkins double).
      const withoutJenkins: Record<string, number> = {
        'post /api/v1/jobs': 503,
        'get /api/v1/jobs/{job}/source': 404,
        'get /api/v1/jobs/{job}/submissions/{id}': 404,
        'post /api/v1/jobs/{job}/submissions/{id}/cancel': 404,
        'get /api/v1/jobs/{job}/builds/{build}/console': 503,
      };
      const hit: string[] = [];
      for (const [route, ops] of Object.entries(doc.paths)) {
        const url =
          route.replace(/\{(\w+)\}/g, (_, p: string) =>
            p === 'name' && route.includes('/report_files/') ? 'report.css' : values[p],
          ) + (queries[route] ?? '');
        for (const [method, op] of Object.entries(ops)) {
          const success = Object.keys(op.responses).filter((s) => /^[12]/.test(s));
          if (route.endsWith('/stream')) {
            const stream = await openStream(svc().url, first.id, { token: svc().read });
            expect(stream.status).toBeNull();
            expect(stream.closeCode).toBe(1000);
            expect(success).toEqual(['101']);
            hit.push(`${method} ${route}`);
            continue;
          }
          let res: request.Response;
          const expected = withoutJenkins[`${method} ${route}`];
          if (expected !== undefined) {
            const agent = request(svc().url);
            const call = method === 'post' ? agent.post(url) : agent.get(url);
            res = await call
              .set('Authorization', bearer(svc().run))
              .send(
                route === '/api/v1/jobs'
                  ? { job: `test-${randomUUID()}`, notebook: makeNotebook(['1 + 1']) }
                  : {},
              );
            expect([method, route, res.status]).toEqual([method, route, expected]);
            expect(Object.keys(op.responses)).toContain(String(expected));
            hit.push(`${method} ${route}`);
            continue;
          }
          if (route.startsWith('/api/v1/blobs/')) {
            // Uploads need role run; a new blob is 201 (documented beside 200, already stored).
            const agent = request(svc().url);
            res =
              method === 'put'
                ? await agent
                    .put(url)
                    .set('Authorization', bearer(svc().run))
                    .type('application/octet-stream')
                    .send(blob)
                : method === 'post'
                  ? await agent
                      .post(url)
                      .set('Authorization', bearer(svc().run))
                      .send({ digests: [values.sha256] })
                  : await get(url);
            const status = method === 'put' ? 201 : 200;
            expect([method, route, res.status]).toEqual([method, route, status]);
            expect(success).toContain(String(status));
            const anonymous = await agent[method as 'get' | 'post' | 'put'](url);
            expect([route, anonymous.status]).toEqual([route, 401]);
            hit.push(`${method} ${route}`);
            continue;
          }
          if (method === 'post' && route === '/api/v1/sessions/{session}/close') {
            res = await request(svc().url).post(url).set('Authorization', bearer(svc().run));
          } else if (method === 'post' && route === '/api/v1/runs') {
            res = await request(svc().url)
              .post(url)
              .set('Authorization', bearer(svc().run))
              .send({ notebook: makeNotebook(['1 + 1']), job: `test-${randomUUID()}` });
            await settled(svc(), res.body.id);
          } else if (method === 'post' && route.endsWith('/reproduce')) {
            // Build 1 ran the job's first notebook: it runs again as 1-repro-1.
            res = await request(svc().url)
              .post(url)
              .set('Authorization', bearer(svc().run))
              .send({});
            expect(res.body.build).toBe('1-repro-1');
            await settled(svc(), res.body.id);
          } else if (method === 'post' && route.endsWith('/cancel')) {
            // The run has finished: 409 is a documented answer of this operation.
            res = await request(svc().url).post(url).set('Authorization', bearer(svc().run));
            expect(res.status).toBe(409);
            expect(Object.keys(op.responses)).toContain('409');
            hit.push(`${method} ${route}`);
            continue;
          } else {
            res = await get(url);
          }
          expect([method, route, res.status]).toEqual([method, route, Number(success[0])]);
          if (op.security !== undefined && (op.security as unknown[]).length === 0) {
            expect((await request(svc().url).get(url)).status).toBe(Number(success[0]));
          } else {
            const anonymous = await request(svc().url)[method as 'get' | 'post'](url);
            expect([route, anonymous.status]).toEqual([route, 401]);
          }
          hit.push(`${method} ${route}`);
        }
      }
      expect(hit.length).toBe(Object.values(doc.paths).flatMap((ops) => Object.keys(ops)).length);
    });
  });
});
