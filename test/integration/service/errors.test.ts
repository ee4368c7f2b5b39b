/**
 * The API's refusals on one real service with a small body limit and a low rate limit: 400 that
 * names the offending field, 401 with a challenge and the token never echoed, 403 for a role too
 * weak, 404 for what does not exist, 409 cancelling a finished run, 413 over the body limit, 429
 * over the rate. Every error is `{ error: { code, message } }`. Each test uses tokens of its own,
 * so the rate limit of one never spills into another.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { fileTokenStore, tokenId, tokensFile } from '../../../server/auth/tokens';
import { makeNotebook } from '../../helpers/notebooks';
import { bearer, settled, useService } from './service-fixture';

const LIMIT = 64 * 1024;

describe('HTTP API errors', () => {
  const svc = useService({ maxBodyBytes: LIMIT, rateLimitPerSecond: 5 });
  const runCount = (): number => svc().service.runs.list().length;

  const expectError = (res: request.Response, status: number, code: string): void => {
    expect([res.status, res.body]).toEqual([
      status,
      { error: { code, message: expect.any(String) } },
    ]);
  };

  describe('400 names the offending field', () => {
    const nb = makeNotebook(['1']);
    const cases: [string, object, RegExp][] = [
      [
        'a parameter with a bad name',
        { notebook: nb, parameters: { ok: 1, '1x': 3 } },
        /^body\.parameters\.1x: the name must match pattern/,
      ],
      ['stages not an array', { notebook: nb, stages: 'train' }, /body\.stages: must be array/],
      ['an unknown top-level property', { notebook: nb, colour: 'red' }, /body\.colour/],
      ['no notebook', { job: 'x' }, /body\.notebook/],
      ['a secret that is not a string', { notebook: nb, secrets: { KEY: 1 } }, /secrets\.KEY/],
      ['a bad build', { notebook: nb, build: '1 2' }, /body\.build/],
      ['a notebookName with a slash', { notebook: nb, notebookName: 'a/b.ipynb' }, /notebookName/],
      [
        'a notebook failing the nbformat schema',
        { notebook: { ...nb, cells: [{ cell_type: 'code', id: 'a', metadata: {}, outputs: [] }] } },
        /notebook.*\/cells\/0.*source/,
      ],
    ];
    it.each(cases)('%s', async (_name, body, message) => {
      const { token } = await svc().token('run');
      const before = runCount();
      const res = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toMatch(/^NBSTAGE_(VALIDATION|NOTEBOOK_INVALID)$/);
      expect(res.body.error.message).toMatch(message);
      expect(runCount()).toBe(before);
    });

    it('a malformed stored output does not stop a run: it is dropped, with a warning', async () => {
      const { token } = await svc().token('run');
      const res = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .send({
          notebook: {
            ...nb,
            cells: [{ ...nb.cells[0], outputs: [{ output_type: 'stream', name: 'stdout' }] }],
          },
        });
      expect(res.status).toBe(201);
      expect(res.body.warnings).toEqual([expect.stringMatching(/\/cells\/0\/outputs\/0/)]);
    });

    it('a body that is not JSON', async () => {
      const { token } = await svc().token('run');
      const res = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .set('Content-Type', 'application/json')
        .send('{"notebook": ');
      expectError(res, 400, 'NBSTAGE_VALIDATION');
      expect(res.body.error.message).toMatch(/^body: not valid JSON/);
      const plain = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .set('Content-Type', 'text/plain')
        .send('hello');
      expectError(plain, 400, 'NBSTAGE_VALIDATION');
      expect(plain.body.error.message).toMatch(/^body: must be object/);
    });

    it('a multipart upload whose notebook or options are not JSON', async () => {
      const { token } = await svc().token('run');
      const badNotebook = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .attach('notebook', Buffer.from('{not json'), 'x.ipynb');
      expectError(badNotebook, 400, 'NBSTAGE_VALIDATION');
      expect(badNotebook.body.error.message).toMatch(/^notebook: not JSON/);
      const badOptions = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .attach('notebook', Buffer.from(JSON.stringify(makeNotebook(['1']))), 'x.ipynb')
        .field('options', '{nope');
      expectError(badOptions, 400, 'NBSTAGE_VALIDATION');
      expect(badOptions.body.error.message).toMatch(/^options: not JSON/);
      const badField = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .attach('notebook', Buffer.from(JSON.stringify(makeNotebook(['1']))), 'x.ipynb')
        .field('options', JSON.stringify({ stages: 'train' }));
      expectError(badField, 400, 'NBSTAGE_VALIDATION');
      expect(badField.body.error.message).toMatch(/body\.stages/);
    });
  });

  describe('401', () => {
    it('without a header, with a bad token, with another scheme; the token never echoed', async () => {
      const bogus = `nbs_${Buffer.from(randomUUID() + randomUUID())
        .toString('base64url')
        .slice(0, 43)}`;
      const attempts: [string | undefined, string][] = [
        [undefined, 'Bearer realm="nbstage"'],
        [bearer(bogus), 'Bearer realm="nbstage", error="invalid_token"'],
        [bearer(`test-${randomUUID()}`), 'Bearer realm="nbstage", error="invalid_token"'],
        [
          `Basic ${Buffer.from(`me:${bogus}`).toString('base64')}`,
          'Bearer realm="nbstage", error="invalid_token"',
        ],
      ];
      for (const route of ['/api/v1/runs', '/api/v1/jobs', '/metrics', '/api/v1/openapi.json']) {
        for (const [header, challenge] of attempts) {
          const req = request(svc().url).get(route);
          const res = await (header === undefined ? req : req.set('Authorization', header));
          expectError(res, 401, 'NBSTAGE_UNAUTHORIZED');
          expect(res.headers['www-authenticate']).toBe(challenge);
          const echoed = JSON.stringify(res.headers) + res.text;
          expect(echoed).not.toContain(bogus);
          expect(echoed).not.toContain(header?.slice(7) ?? 'no header');
        }
      }
      const post = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(bogus))
        .send({ notebook: makeNotebook(['1']) });
      expectError(post, 401, 'NBSTAGE_UNAUTHORIZED');
      expect(post.text).not.toContain(bogus);
    });

    it('a revoked token is refused', async () => {
      const { token } = await svc().token('read');
      const ok = await request(svc().url).get('/api/v1/runs').set('Authorization', bearer(token));
      expect(ok.status).toBe(200);
      await fileTokenStore(tokensFile(svc().home)).revoke(tokenId(token) ?? '');
      const res = await request(svc().url).get('/api/v1/runs').set('Authorization', bearer(token));
      expectError(res, 401, 'NBSTAGE_UNAUTHORIZED');
    });
  });

  describe('403', () => {
    it('a read token may not create a run', async () => {
      const { token, name } = await svc().token('read');
      const before = runCount();
      const res = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .send({ notebook: makeNotebook(['1']) });
      expectError(res, 403, 'NBSTAGE_FORBIDDEN');
      expect(res.body.error.message).toContain('role "run"');
      expect(res.body.error.message).toContain(name);
      expect(res.text).not.toContain(token);
      expect(runCount()).toBe(before);
    });

    it('a read token may not cancel a run; the run goes on until a run token cancels it', async () => {
      const reader = await svc().token('read');
      const runner = await svc().token('run');
      const created = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(runner.token))
        .send({
          notebook: makeNotebook(['import time\ntime.sleep(60)']),
          job: `test-${randomUUID()}`,
        });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const refused = await request(svc().url)
        .post(`/api/v1/runs/${id}/cancel`)
        .set('Authorization', bearer(reader.token));
      expectError(refused, 403, 'NBSTAGE_FORBIDDEN');
      const still = await request(svc().url)
        .get(`/api/v1/runs/${id}`)
        .set('Authorization', bearer(reader.token));
      expect(still.body.state).toMatch(/^(queued|running)$/);
      const cancelled = await request(svc().url)
        .post(`/api/v1/runs/${id}/cancel`)
        .set('Authorization', bearer(runner.token));
      expect(cancelled.status).toBe(202);
      expect((await settled(svc(), id)).state).toBe('cancelled');
    });
  });

  describe('404', () => {
    it('an unknown run, on every run route', async () => {
      const { token } = await svc().token('run');
      const id = randomUUID();
      for (const suffix of [
        '',
        '/notebook',
        '/junit',
        '/html',
        '/artifacts',
        '/artifacts/a.txt',
        '/report_files/report.css',
      ]) {
        const res = await request(svc().url)
          .get(`/api/v1/runs/${id}${suffix}`)
          .set('Authorization', bearer(token));
        expectError(res, 404, 'NBSTAGE_NOT_FOUND');
        expect([suffix, res.headers['content-type']]).toEqual([
          suffix,
          expect.stringMatching(/^application\/json/),
        ]);
        expect(res.body.error.message).toContain(id);
      }
      const cancel = await request(svc().url)
        .post(`/api/v1/runs/${id}/cancel`)
        .set('Authorization', bearer(token));
      expectError(cancel, 404, 'NBSTAGE_NOT_FOUND');
      const notUuid = await request(svc().url)
        .get('/api/v1/runs/not-a-run')
        .set('Authorization', bearer(token));
      expectError(notUuid, 404, 'NBSTAGE_NOT_FOUND');
    });

    it('an unknown job, build and route; an unknown artifact of a real run', async () => {
      const { token } = await svc().token('run');
      const job = `test-${randomUUID()}/folder`;
      const get = (route: string): request.Test =>
        request(svc().url).get(route).set('Authorization', bearer(token));
      for (const route of [
        `/api/v1/jobs/${encodeURIComponent(job)}/builds`,
        `/api/v1/jobs/${encodeURIComponent(job)}/builds/1`,
        `/api/v1/jobs/${encodeURIComponent(job)}/builds/1/notebook`,
        `/api/v1/jobs/${encodeURIComponent(job)}/diff?a=1&b=2`,
        '/api/v1/nope',
        '/api/v2/runs',
      ]) {
        const res = await get(route);
        expect([route, res.status]).toEqual([route, 404]);
        expect(res.body.error.code).toBe('NBSTAGE_NOT_FOUND');
      }
      const outside = await request(svc().url).get(`/test-${randomUUID()}`);
      expectError(outside, 404, 'NBSTAGE_NOT_FOUND');
      const created = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(token))
        .send({ notebook: makeNotebook(['1']), job });
      const run = await settled(svc(), created.body.id);
      expect(run.state).toBe('completed');
      const artifact = await get(`/api/v1/runs/${run.id}/artifacts/missing.txt`);
      expectError(artifact, 404, 'NBSTAGE_NOT_FOUND');
      expect(artifact.body.error.message).toContain('missing.txt');
      expect((await get(`/api/v1/jobs/${encodeURIComponent(job)}/builds/nope`)).status).toBe(404);
    });
  });

  it('409 cancelling a finished run, which stays as it was', async () => {
    const { token } = await svc().token('run');
    const created = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(token))
      .send({ notebook: makeNotebook(['print("done")']), job: `test-${randomUUID()}` });
    const run = await settled(svc(), created.body.id);
    expect(run.state).toBe('completed');
    const res = await request(svc().url)
      .post(`/api/v1/runs/${run.id}/cancel`)
      .set('Authorization', bearer(token));
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('completed');
    const after = await request(svc().url)
      .get(`/api/v1/runs/${run.id}`)
      .set('Authorization', bearer(token));
    expect(after.body).toMatchObject({ state: 'completed', version: run.version });
  });

  it('413 for a body over the limit, JSON or multipart, and nothing is recorded', async () => {
    const { token } = await svc().token('run');
    const before = runCount();
    const big = makeNotebook([{ source: 'x'.repeat(LIMIT + 1), type: 'markdown' }]);
    const json = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(token))
      .send({ notebook: big });
    expectError(json, 413, 'NBSTAGE_PAYLOAD_TOO_LARGE');
    expect(json.body.error.message).toContain(String(LIMIT));
    const upload = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(token))
      .attach('notebook', Buffer.from(JSON.stringify(big)), 'big.ipynb');
    expectError(upload, 413, 'NBSTAGE_PAYLOAD_TOO_LARGE');
    expect(runCount()).toBe(before);
    const small = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(token))
      .send({ notebook: makeNotebook([{ source: 'x'.repeat(LIMIT / 2), type: 'markdown' }]) });
    expect(small.status).toBe(201);
    await settled(svc(), small.body.id);
  });

  it('429 over the rate limit, with Retry-After, for that token only', async () => {
    const greedy = await svc().token('read');
    const other = await svc().token('read');
    // Bucket of 4 x 5 = 20 requests; 60 at once cannot all fit.
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        request(svc().url).get('/api/v1/jobs').set('Authorization', bearer(greedy.token)),
      ),
    );
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status !== 429).every((r) => r.status === 200)).toBe(true);
    expectError(limited[0], 429, 'NBSTAGE_RATE_LIMITED');
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const unaffected = await request(svc().url)
      .get('/api/v1/jobs')
      .set('Authorization', bearer(other.token));
    expect(unaffected.status).toBe(200);
  });
});
