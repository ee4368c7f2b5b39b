/**
 * Input the service used to accept and then mishandle, on one real service (in-process queue
 * and workers, a real Jupyter kernel, the git version store): bodies nested too deeply, JSON
 * that is not an object, job names the store cannot hold and an unknown kernel are refused at
 * creation with a 400 naming the field, with nothing written under runs/; a duplicate cell id
 * gets a new one with a warning;
 * artifacts with a bad name or over the size limit are skipped with a note while the run and
 * its other artifacts are versioned; a stored job name with a lone surrogate still renders.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { ServiceRun } from '../../../server/runs/service-run';
import { makeNotebook, tempDir } from '../../helpers/notebooks';
import { bearer, settled, useService } from './service-fixture';

/** A run an earlier service stored under a name no longer accepted (a lone surrogate). */
const home = tempDir();
const oddId = randomUUID();
const oddJob = 'odd\uD800job';
fs.mkdirSync(path.join(home, 'runs', oddId), { recursive: true });
fs.writeFileSync(
  path.join(home, 'runs', oddId, 'run.json'),
  JSON.stringify({
    id: oddId,
    state: 'error',
    job: oddJob,
    build: '1',
    notebookName: 'odd.ipynb',
    stages: [],
    session: null,
    labels: [],
    parameters: {},
    secrets: [],
    createdAt: new Date().toISOString(),
    createdBy: 'earlier',
    startedAt: null,
    finishedAt: new Date().toISOString(),
    workerId: null,
    exitCode: null,
    error: { code: 'NBSTAGE_INTERNAL', message: 'versioning failed' },
    metrics: {},
    version: null,
    artifacts: [],
  }),
);

/** `[[[...1...]]]`, `depth` arrays deep, as JSON text. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

describe('input checked at creation', () => {
  const previous = process.env.NBSTAGE_MAX_ARTIFACT_BYTES;
  beforeAll(() => {
    // The in-process workers read the artifacts limit when they start.
    process.env.NBSTAGE_MAX_ARTIFACT_BYTES = '4096';
  });
  afterAll(() => {
    if (previous === undefined) {
      delete process.env.NBSTAGE_MAX_ARTIFACT_BYTES;
    } else {
      process.env.NBSTAGE_MAX_ARTIFACT_BYTES = previous;
    }
  });
  const svc = useService({ home, workers: 1, maxBodyBytes: 8 * 1024 * 1024 });
  const runDirs = (): string[] => fs.readdirSync(path.join(home, 'runs')).sort();

  const post = (body: string | object): request.Test =>
    request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .set('Content-Type', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body));

  it.each([2000, 200_000])(
    'refuses metadata nested %i arrays deep, stays up, writes nothing',
    async (depth) => {
      const before = runDirs();
      const nb = JSON.stringify({ ...makeNotebook(['1']), metadata: { deep: 0 } });
      const body = `{"notebook":${nb.replace('"deep":0', `"deep":${nested(depth)}`)}}`;
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('NBSTAGE_VALIDATION');
      expect(res.body.error.message).toMatch(
        /^body\.notebook\.metadata\.deep\.0\.0\.0\.0\.…: nested deeper than 64 levels .*NBSTAGE_MAX_JSON_DEPTH/,
      );
      expect(runDirs()).toEqual(before);
      expect((await request(svc().url).get('/healthz')).status).toBe(200);
    },
  );

  it('refuses a parameter nested too deeply, naming it', async () => {
    const body = `{"notebook":${JSON.stringify(makeNotebook(['1']))},"parameters":{"lr":${nested(65)}}}`;
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(
      /^body\.parameters\.lr\.0\.0\.0\.0\.0\.0\.…: nested deeper/,
    );
  });

  it.each([
    ['null', 'null'],
    ['123', 'a number'],
    ['"str"', 'a string'],
    ['[1]', 'an array'],
  ])('says JSON %s is valid JSON but not an object', async (text, kind) => {
    const res = await post(text);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'NBSTAGE_VALIDATION',
      message: `body: must be object, got ${kind} (valid JSON, but not a JSON object)`,
    });
  });

  it.each(['a//b', '/abs', 'a/', '/', 'lone\uD800surrogate', 'x\uDC00'])(
    'refuses the job name %j at creation',
    async (job) => {
      const before = runDirs();
      const res = await post({ notebook: makeNotebook(['1']), job });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('NBSTAGE_VALIDATION');
      expect(res.body.error.message).toMatch(/^body\.job: /);
      expect(runDirs()).toEqual(before);
    },
  );

  it('refuses an unknown kernel at creation, naming the kernels offered', async () => {
    const before = runDirs();
    const res = await post({ notebook: makeNotebook(['1']), kernel: 'nope' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('NBSTAGE_KERNEL_NOT_FOUND');
    expect(res.body.error.message).toMatch(
      /^body\.kernel: unknown kernel "nope" \(the workers offer: .*python3/,
    );
    const fromNotebook = await post({ notebook: makeNotebook(['1'], 'nope-either') });
    expect(fromNotebook.status).toBe(400);
    expect(fromNotebook.body.error.message).toMatch(
      /^body\.notebook\.metadata\.kernelspec\.name: unknown kernel "nope-either"/,
    );
    expect(runDirs()).toEqual(before);
  });

  it('gives a duplicate cell id a new one, with a warning, as nbformat does', async () => {
    const nb = makeNotebook(['print(1)', 'print(2)']);
    nb.cells[1].id = nb.cells[0].id;
    const res = await post({ notebook: nb });
    expect(res.status).toBe(201);
    expect((res.body as ServiceRun).warnings).toEqual([
      expect.stringMatching(/\/cells\/1\/id 'c0' is not unique: generated a new id/),
    ]);
    const run = await settled(svc(), (res.body as ServiceRun).id);
    expect(run.state).toBe('completed');
    const executed = await request(svc().url)
      .get(`/api/v1/runs/${run.id}/notebook`)
      .set('Authorization', bearer(svc().run));
    const ids = (executed.body as { cells: { id: string }[] }).cells.map((c) => c.id);
    expect(ids[0]).toBe('c0');
    expect(new Set(ids).size).toBe(2);
  });

  it('skips a badly named and an over-size artifact with a note, versions the rest', async () => {
    const job = `test-${randomUUID()}/artifacts`;
    const res = await post({
      job,
      notebook: makeNotebook([
        [
          'import os',
          'd = os.environ["NBSTAGE_ARTIFACTS"]',
          'open(os.path.join(d, "back\\\\slash.txt"), "w").write("x")',
          'open(os.path.join(d, "big.bin"), "w").write("b" * 5000)',
          'open(os.path.join(d, "ok.txt"), "w").write("fine")',
        ].join('\n'),
      ]),
    });
    expect(res.status).toBe(201);
    const run = await settled(svc(), (res.body as ServiceRun).id);
    expect(run.state).toBe('completed');
    expect(run.error).toBeNull();
    expect(run.version).not.toBeNull();
    expect(run.artifacts.map((a) => a.name)).toEqual(['ok.txt']);
    expect(run.artifactsSkipped).toEqual([
      { name: 'back\\slash.txt', reason: expect.stringMatching(/must use "\/" as separator/) },
      {
        name: 'big.bin',
        reason: expect.stringMatching(
          /^5000 bytes would take the run's artifacts past 4096 bytes .*NBSTAGE_MAX_ARTIFACT_BYTES/,
        ),
      },
    ]);
  });

  it('renders pages of a stored job name with a lone surrogate', async () => {
    const auth = bearer(svc().admin);
    const jobs = await request(svc().url).get('/').set('Authorization', auth);
    expect(jobs.status).toBe(200);
    expect(jobs.text).toContain('/jobs/odd%EF%BF%BDjob');
    const run = await request(svc().url).get(`/runs/${oddId}`).set('Authorization', auth);
    expect(run.status).toBe(200);
    const api = await request(svc().url).get(`/api/v1/runs/${oddId}`).set('Authorization', auth);
    expect(api.status).toBe(200);
  });
});
