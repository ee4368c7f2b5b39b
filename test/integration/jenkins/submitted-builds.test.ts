/**
 * The builds of a submitted job before any of them has a version: a build that failed before
 * its first stage (so no nbstage run ever stored anything) is listed by
 * `GET /api/v1/jobs/:job/builds` with `commit: null`, as the README promises, not a 404.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { MergedBuild } from '../../../server/jobs/build-merge';
import type { Submission } from '../../../server/jobs/submit-request';
import { JenkinsDouble, jenkinsEnv } from '../../helpers/jenkins-double';
import { makeNotebook } from '../../helpers/notebooks';
import { bearer, useService } from '../service/service-fixture';

describe('builds of a submitted job without versions', () => {
  const env: NodeJS.ProcessEnv = {};
  let double: JenkinsDouble;
  beforeAll(async () => {
    double = await JenkinsDouble.start();
    Object.assign(env, jenkinsEnv(double));
  });
  let closed = false;
  afterAll(async () => {
    if (!closed) {
      await double.close();
    }
  });
  const svc = useService({ workers: 0, env, jenkinsPollMs: 50 });

  it('lists a build that failed before its first stage with commit null', async () => {
    const job = `team ${randomUUID()}/train`;
    double.script(job, {
      run: (build) => {
        build.log('ERROR: no agent with label gpu\n');
        build.finish('FAILURE');
      },
    });
    const submitted = await request(svc().url)
      .post('/api/v1/jobs')
      .set('Authorization', bearer(svc().run))
      .send({ job, notebook: makeNotebook(['print(1)']) });
    expect(submitted.status).toBe(202);
    const id = (submitted.body as Submission).id;
    for (;;) {
      const res = await request(svc().url)
        .get(`/api/v1/jobs/${encodeURIComponent(job)}/submissions/${id}`)
        .set('Authorization', bearer(svc().read));
      if ((res.body as Submission).state === 'finished') {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const res = await request(svc().url)
      .get(`/api/v1/jobs/${encodeURIComponent(job)}/builds`)
      .set('Authorization', bearer(svc().read));
    expect(res.status).toBe(200);
    expect(res.body as MergedBuild[]).toEqual([
      expect.objectContaining({ build: '1', commit: null, tag: null, status: 'failure' }),
    ]);
  });

  it('answers an empty history, not 404, while Jenkins cannot list the builds of a submitted job', async () => {
    const job = `team ${randomUUID()}/unlisted`;
    double.script(job, { run: (build) => build.finish('FAILURE') });
    const submitted = await request(svc().url)
      .post('/api/v1/jobs')
      .set('Authorization', bearer(svc().run))
      .send({ job, notebook: makeNotebook(['print(1)']) });
    expect(submitted.status).toBe(202);
    closed = true;
    await double.close();
    const res = await request(svc().url)
      .get(`/api/v1/jobs/${encodeURIComponent(job)}/builds`)
      .set('Authorization', bearer(svc().read));
    expect([res.status, res.body]).toEqual([200, []]);
    const never = await request(svc().url)
      .get(`/api/v1/jobs/${encodeURIComponent(`never ${randomUUID()}`)}/builds`)
      .set('Authorization', bearer(svc().read));
    expect(never.status).toBe(404);
  });
});
