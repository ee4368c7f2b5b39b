/**
 * A service killed abruptly (SIGKILL of `nbstage serve`; the Jupyter server and kernel it had
 * started end on their own) while a run sleeps: the next `nbstage serve` on the same home reports that run as
 * `error`, saying the service stopped while it was in flight, serves its partial notebook and has
 * versioned it; runs that had finished stay as they were; and the new service runs notebooks.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import type { ServiceRun } from '../../../server/runs/service-run';
import { cleanupDirs, gateFile, makeNotebook, tempDir } from '../../helpers/notebooks';
import { alive, descendants, survivors } from '../../helpers/processes';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';
import { bearer, jobPath, notebookText, openStream, untilOutput } from './service-fixture';

/** `nbstage serve` on `home` with one worker. */
function serve(home: string, admin: string): Promise<ServeProcess> {
  return startServeProcess(home, admin, ['--workers', '1']);
}

describe('a service killed mid-run, restarted on the same home', () => {
  const home = tempDir();
  const admin = `test-${randomUUID()}`;
  const job = `test-${randomUUID()}/restart`;
  const started: number[] = [];
  let finished: ServiceRun;
  let inFlight: ServiceRun;
  let second: ServeProcess;

  const get = (url: string, route: string): request.Test =>
    request(url).get(route).set('Authorization', bearer(admin));
  /** Sends `signal` to a service, first noting its process tree (checked for survivors). */
  const kill = (service: ServeProcess, signal: NodeJS.Signals): number[] => {
    const tree = descendants(service.child.pid ?? 0);
    started.push(...tree);
    service.child.kill(signal);
    return tree;
  };

  beforeAll(async () => {
    const crashing = await serve(home, admin);
    started.push(crashing.child.pid ?? 0);
    const post = (body: object): request.Test =>
      request(crashing.url).post('/api/v1/runs').set('Authorization', bearer(admin)).send(body);
    const done = await post({
      notebook: makeNotebook(['print("finished fine")']),
      job,
      build: '4',
    });
    expect(done.status).toBe(201);
    for (;;) {
      const res = await get(crashing.url, `/api/v1/runs/${done.body.id}`);
      if (res.body.version !== null) {
        finished = res.body as ServiceRun;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const sleeping = await post({
      notebook: makeNotebook([
        'print("before crash", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(60)\nprint("never")',
      ]),
      job,
      build: '5',
    });
    expect(sleeping.status).toBe(201);
    await untilOutput(crashing.url, admin, sleeping.body.id, 'sleeping');
    // Node goes at once; its Jupyter server and the sleeping kernel follow on their own.
    const tree = kill(crashing, 'SIGKILL');
    expect((await crashing.exited).signal).toBe('SIGKILL');
    expect(await survivors(tree, 20000)).toEqual([]);
    second = await serve(home, admin);
    started.push(second.child.pid ?? 0);
    inFlight = (await get(second.url, `/api/v1/runs/${sleeping.body.id}`)).body as ServiceRun;
  });

  afterAll(async () => {
    if (second !== undefined && second.child.exitCode === null) {
      kill(second, 'SIGTERM');
      await second.exited;
    }
    for (const pid of started) {
      if (pid > 0 && alive(pid)) {
        process.kill(pid, 'SIGKILL');
      }
    }
    cleanupDirs();
  });

  it('reports the run in flight as error, saying the service stopped', () => {
    expect(inFlight).toMatchObject({
      state: 'error',
      error: {
        code: expect.stringMatching(/^NBSTAGE_/),
        message: expect.stringMatching(/service stopped while this run was in flight/),
      },
      finishedAt: expect.any(String),
      version: { commit: expect.stringMatching(/^[0-9a-f]{40}$/) },
    });
  });

  it('serves its partial notebook and has versioned it', async () => {
    const partial = (await get(second.url, `/api/v1/runs/${inFlight.id}/notebook`))
      .body as Notebook;
    const text = notebookText(partial);
    expect(text).toContain('before crash\n');
    expect(text).toContain('sleeping\n');
    expect(text).not.toContain('never');
    expect(partial.metadata.nbstage).toMatchObject({ status: 'error' });
    const builds = await get(second.url, `/api/v1/jobs/${jobPath(job)}/builds`);
    expect(builds.body).toMatchObject([
      { build: '5', status: 'error', runIds: [inFlight.id] },
      { build: '4', status: 'completed', runIds: [finished.id] },
    ]);
    const versioned = (await get(second.url, `/api/v1/jobs/${jobPath(job)}/builds/5/notebook`))
      .body as Notebook;
    expect(notebookText(versioned)).toBe(text);
  });

  it("streams what the interrupted run produced, ending with the service's verdict", async () => {
    const stream = await openStream(second.url, inFlight.id, { token: admin });
    expect(stream.closeCode).toBe(1000);
    const events = stream.messages.map((m) => m.event);
    expect(events[0].type).toBe('run-start');
    expect(events[events.length - 1]).toMatchObject({ type: 'run-finished', state: 'error' });
    expect(stream.messages.map((m) => m.seq)).toEqual(events.map((_, i) => i));
  });

  it('keeps the runs that had finished as they were, and their event streams', async () => {
    const res = await get(second.url, `/api/v1/runs/${finished.id}`);
    expect(res.body).toEqual(finished);
    const listed = (await get(second.url, '/api/v1/runs')).body as ServiceRun[];
    expect(listed.map((r) => r.id).sort()).toEqual([finished.id, inFlight.id].sort());
    const stream = await openStream(second.url, finished.id, { token: admin });
    expect(stream.status).toBeNull();
    expect(stream.closeCode).toBe(1000);
    expect(stream.messages[0].event.type).toBe('run-start');
    expect(stream.messages[stream.messages.length - 1].event).toMatchObject({
      type: 'run-finished',
      state: 'completed',
    });
    expect(stream.messages.map((m) => m.seq)).toEqual(stream.messages.map((_, i) => i));
  });

  it('runs notebooks again; SIGTERM drains: not ready, no new runs, the running one finishes', async () => {
    // The run holds until the test has seen the service draining.
    const go = gateFile();
    const res = await request(second.url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(admin))
      .send({
        notebook: makeNotebook([
          { source: 'go = ""', tags: ['parameters'] },
          'import os, time\n' +
            'print("after restart", flush=True)\n' +
            'deadline = time.time() + 30\n' +
            'while not os.path.exists(go) and time.time() < deadline:\n' +
            '    time.sleep(0.02)\n' +
            'print("released")',
        ]),
        parameters: { go },
        job,
        build: '6',
      });
    expect(res.status).toBe(201);
    await untilOutput(second.url, admin, res.body.id, 'after restart');
    const tree = kill(second, 'SIGTERM');
    let ready = await request(second.url).get('/readyz');
    while (ready.status === 200) {
      await new Promise((r) => setTimeout(r, 20));
      ready = await request(second.url).get('/readyz');
    }
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe('NBSTAGE_UNAVAILABLE');
    const refused = await request(second.url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(admin))
      .send({ notebook: makeNotebook(['1']), job });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('NBSTAGE_UNAVAILABLE');
    fs.writeFileSync(go, '');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(tree.filter(alive)).toEqual([]);
    const runJson = JSON.parse(
      fs.readFileSync(path.join(home, 'runs', res.body.id, 'run.json'), 'utf8'),
    ) as ServiceRun;
    expect(runJson).toMatchObject({ state: 'completed', version: expect.any(Object) });
    const executed = JSON.parse(
      fs.readFileSync(path.join(home, 'runs', res.body.id, 'executed.ipynb'), 'utf8'),
    ) as Notebook;
    expect(notebookText(executed)).toContain('after restart\nreleased\n');
  });
});
