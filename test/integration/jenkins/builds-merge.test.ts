/**
 * `GET /api/v1/jobs/:job/builds` with Jenkins configured: versions stored by real runs (on a real
 * Jupyter kernel, as the agent step sends them, with the Jenkins build URL) merged with the
 * job's builds in the Jenkins double: both sides per build number, Jenkins-only builds (running
 * or never versioned), versions Jenkins no longer has; jobs in folders with spaces; a job only
 * Jenkins knows.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { MergedBuild } from '../../../server/jobs/build-merge';
import type { ServiceRun } from '../../../server/runs/service-run';
import { JenkinsDouble, jenkinsEnv } from '../../helpers/jenkins-double';
import { makeNotebook } from '../../helpers/notebooks';
import { bearer, settled, useService } from '../service/service-fixture';

describe('GET /api/v1/jobs/:job/builds merges Jenkins builds with versions', () => {
  const env: NodeJS.ProcessEnv = {};
  let double: JenkinsDouble;
  beforeAll(async () => {
    double = await JenkinsDouble.start();
    Object.assign(env, jenkinsEnv(double));
  });
  afterAll(async () => {
    await double.close();
  });
  const svc = useService({ workers: 1, env });

  /** Stores a version the way the agent step does: a run naming its job, build and Jenkins URL. */
  const version = async (job: string, build: string, source: string): Promise<ServiceRun> => {
    const res = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .send({
        notebook: makeNotebook([source]),
        job,
        build,
        jenkins: { buildUrl: `${double.url}/job/${encodeURIComponent(job)}/${build}/` },
      });
    expect(res.status).toBe(201);
    return settled(svc(), (res.body as ServiceRun).id);
  };

  const builds = async (job: string): Promise<{ status: number; body: MergedBuild[] }> => {
    const res = await request(svc().url)
      .get(`/api/v1/jobs/${encodeURIComponent(job)}/builds`)
      .set('Authorization', bearer(svc().read));
    return { status: res.status, body: res.body as MergedBuild[] };
  };

  it('joins versions and Jenkins builds by number, in a folder with spaces', async () => {
    const job = `team ${randomUUID()}/train model`;
    double.addItem(job.split('/')[0], 'folder');
    double.addItem(job, 'job');
    double.addBuild(job, 'SUCCESS');
    double.addBuild(job, 'FAILURE');
    const running = double.addBuild(job, 'SUCCESS');
    running.building = true;
    running.result = null;
    expect((await version(job, '1', 'print("ok")')).state).toBe('completed');
    expect((await version(job, '2', 'raise ValueError("bad")')).state).toBe('failed');
    // Build 4 has a version but Jenkins no longer keeps it (discarded old build).
    expect((await version(job, '4', '1 + 1')).state).toBe('completed');

    const { status, body } = await builds(job);
    expect(status).toBe(200);
    expect(
      body.map((b) => [b.build, b.status, b.commit === null, b.jenkins?.result ?? null]),
    ).toEqual([
      ['4', 'completed', false, null],
      ['3', 'running', true, null],
      ['2', 'failed', false, 'FAILURE'],
      ['1', 'completed', false, 'SUCCESS'],
    ]);
    const [four, three, , one] = body;
    expect(four.jenkins).toBeNull();
    expect(three.jenkins).toMatchObject({ number: 3, building: true, result: null });
    expect(three.jenkinsUrl).toBe(
      `${double.url}/job/${encodeURIComponent(job.split('/')[0])}/job/train%20model/3/`,
    );
    expect(one.jenkins).toMatchObject({ number: 1, result: 'SUCCESS', building: false });
    expect(one.jenkins?.duration).toBeGreaterThan(0);
    expect(one.jenkinsUrl).toBe(`${double.url}/job/${encodeURIComponent(job)}/1/`);
    expect(one.runIds).toHaveLength(1);
  });

  it('lists a job only Jenkins knows, and 404s a job nobody knows', async () => {
    const job = `test-${randomUUID()}`;
    double.addItem(job, 'job');
    double.addBuild(job, 'ABORTED');
    const { status, body } = await builds(job);
    expect(status).toBe(200);
    expect(body).toEqual([
      expect.objectContaining({ build: '1', commit: null, status: 'aborted', stages: [] }),
    ]);
    expect((await builds(`test-${randomUUID()}`)).status).toBe(404);
  });
});
