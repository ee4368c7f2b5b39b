/**
 * Runs while they run, on one real service: the websocket stream (a client that joins late gets
 * every event in order, then the live ones; `?from=K` gets exactly the tail; no token 401,
 * unknown run 404), cancelling a running run over HTTP (partial notebook kept and versioned),
 * the audit log naming who created and cancelled, and secrets that never leave the kernel.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import type { AuditEntry } from '../../../server/auth/audit';
import type { ServiceRun } from '../../../server/runs/service-run';
import { gateFile, makeNotebook } from '../../helpers/notebooks';
import {
  bearer,
  filesUnder,
  gitObjects,
  jobPath,
  notebookText,
  openStream,
  settled,
  untilOutput,
  useService,
  type StreamMessage,
} from './service-fixture';

describe('run streams, cancellation, audit and secrets', () => {
  const svc = useService();
  const get = (route: string, token = svc().read): request.Test =>
    request(svc().url).get(route).set('Authorization', bearer(token));
  const create = async (body: object, token = svc().run): Promise<ServiceRun> => {
    const res = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(token))
      .send(body);
    expect(res.status).toBe(201);
    return res.body as ServiceRun;
  };
  const streamText = (messages: StreamMessage[]): string =>
    messages
      .filter((m) => m.event.type === 'output')
      .map((m) => {
        const output = m.event.output as { output_type: string; text?: string | string[] };
        const text = output.text ?? '';
        return Array.isArray(text) ? text.join('') : text;
      })
      .join('');

  describe('the websocket stream', () => {
    let id: string;
    let live: StreamMessage[];

    beforeAll(async () => {
      // The second cell waits for a file the test creates once its late client is connected:
      // that client gets the first half replayed and the second half live.
      const go = gateFile();
      const nb = makeNotebook([
        { source: 'go = ""', tags: ['parameters'] },
        'import time\nfor i in range(3):\n    print(f"line {i}", flush=True)\n    time.sleep(0.05)',
        'import os, time\n' +
          'deadline = time.time() + 30\n' +
          'while not os.path.exists(go) and time.time() < deadline:\n' +
          '    time.sleep(0.02)\n' +
          'for i in range(3, 6):\n' +
          '    print(f"line {i}", flush=True)\n' +
          '    time.sleep(0.05)',
      ]);
      const run = await create({ notebook: nb, parameters: { go }, job: `test-${randomUUID()}` });
      id = run.id;
      await untilOutput(svc().url, svc().read, id, 'line 2');
      const late = await openStream(svc().url, id, {
        token: svc().read,
        from: 0,
        onOpen: () => fs.writeFileSync(go, ''),
      });
      expect(late.status).toBeNull();
      expect(late.closeCode).toBe(1000);
      live = late.messages;
      expect((await settled(svc(), id)).state).toBe('completed');
    });

    it('a client joining mid-run gets every event, numbered and in order', () => {
      expect(live.map((m) => m.seq)).toEqual(live.map((_, i) => i));
      expect(live[0].event.type).toBe('run-start');
      expect(live[live.length - 1].event).toMatchObject({
        type: 'run-finished',
        runId: id,
        state: 'completed',
      });
      expect(live[live.length - 2].event).toMatchObject({ type: 'run-end', status: 'completed' });
      expect(streamText(live)).toBe('line 0\nline 1\nline 2\nline 3\nline 4\nline 5\n');
      const cells = live.filter((m) => m.event.type === 'cell-end').map((m) => m.event.index);
      expect(cells).toEqual([...cells].sort((a, b) => Number(a) - Number(b)));
      // The parameters cell, the injected parameters and the two printing cells.
      expect(cells).toHaveLength(4);
    });

    it('a client joining after the end gets the same events; ?from=K exactly the tail', async () => {
      const again = await openStream(svc().url, id, { token: svc().read });
      expect(again.closeCode).toBe(1000);
      expect(again.messages).toEqual(live);
      for (const k of [1, Math.floor(live.length / 2), live.length - 1, live.length]) {
        const tail = await openStream(svc().url, id, { token: svc().read, from: k });
        expect(tail.closeCode).toBe(1000);
        expect(tail.messages).toEqual(live.slice(k));
      }
    });

    it('takes the token as ?token= for browsers', async () => {
      const viaQuery = await openStream(svc().url, id, {
        query: `token=${encodeURIComponent(svc().read)}`,
      });
      expect(viaQuery.closeCode).toBe(1000);
      expect(viaQuery.messages).toEqual(live);
    });

    it('refuses a join without a token or with a bad one (401), and unknown runs (404)', async () => {
      const bad = `test-${randomUUID()}`;
      for (const options of [{}, { token: bad }, { query: `token=${bad}` }]) {
        const refused = await openStream(svc().url, id, options);
        expect(refused.status).toBe(401);
        expect(refused.headers['www-authenticate']).toMatch(/^Bearer realm="nbstage"/);
        expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'NBSTAGE_UNAUTHORIZED' } });
        expect(refused.body).not.toContain(bad);
        expect(refused.messages).toEqual([]);
      }
      const unknown = await openStream(svc().url, randomUUID(), { token: svc().read });
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body)).toMatchObject({ error: { code: 'NBSTAGE_NOT_FOUND' } });
      const notARun = await openStream(svc().url, 'not-a-run', { token: svc().read });
      expect(notARun.status).toBe(404);
    });
  });

  describe('cancelling over HTTP', () => {
    const job = `test-${randomUUID()}/cancel me`;
    let run: ServiceRun;
    let answer: request.Response;

    beforeAll(async () => {
      const nb = makeNotebook([
        'print("before sleep", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(60)\nprint("never")',
        'print("not reached")',
      ]);
      const created = await create({ notebook: nb, job, build: '3' });
      await untilOutput(svc().url, svc().read, created.id, 'sleeping');
      answer = await request(svc().url)
        .post(`/api/v1/runs/${created.id}/cancel`)
        .set('Authorization', bearer(svc().admin));
      run = await settled(svc(), created.id);
    });

    it('answers 202 and the run ends cancelled', async () => {
      expect(answer.status).toBe(202);
      expect(answer.body).toEqual({ id: run.id, cancelling: true });
      const shown = await get(`/api/v1/runs/${run.id}`);
      expect(shown.body).toMatchObject({
        state: 'cancelled',
        error: { code: 'NBSTAGE_CANCELLED' },
        version: { commit: expect.stringMatching(/^[0-9a-f]{40}$/) },
      });
    });

    it('keeps the partial notebook, served and versioned', async () => {
      const partial = (await get(`/api/v1/runs/${run.id}/notebook`)).body as Notebook;
      const text = notebookText(partial);
      expect(text).toContain('before sleep\n');
      expect(text).toContain('sleeping\n');
      expect(text).not.toContain('never');
      expect(text).not.toContain('not reached');
      expect(partial.metadata.nbstage).toMatchObject({ status: 'cancelled' });
      const builds = await get(`/api/v1/jobs/${jobPath(job)}/builds`);
      expect(builds.body).toMatchObject([{ build: '3', status: 'cancelled', runIds: [run.id] }]);
      const versioned = (await get(`/api/v1/jobs/${jobPath(job)}/builds/3/notebook`))
        .body as Notebook;
      expect(notebookText(versioned)).toBe(text);
    });

    it('answers 409 to a second cancel', async () => {
      const again = await request(svc().url)
        .post(`/api/v1/runs/${run.id}/cancel`)
        .set('Authorization', bearer(svc().run));
      expect(again.status).toBe(409);
      expect(again.body.error.message).toContain('cancelled');
    });
  });

  it('the audit log has one line per run created and cancelled, naming who', async () => {
    const canceller = await svc().token('run');
    const run = await create({
      notebook: makeNotebook(['import time\ntime.sleep(60)']),
      job: `test-${randomUUID()}`,
    });
    const refused = await request(svc().url)
      .post(`/api/v1/runs/${run.id}/cancel`)
      .set('Authorization', bearer(svc().read));
    expect(refused.status).toBe(403);
    const cancelled = await request(svc().url)
      .post(`/api/v1/runs/${run.id}/cancel`)
      .set('Authorization', bearer(canceller.token));
    expect(cancelled.status).toBe(202);
    await settled(svc(), run.id);
    const late = await request(svc().url)
      .post(`/api/v1/runs/${run.id}/cancel`)
      .set('Authorization', bearer(canceller.token));
    expect(late.status).toBe(409);
    const file = path.join(svc().home, 'audit.log');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEntry)
      .filter((e) => e.target === run.id);
    expect(lines).toEqual([
      expect.objectContaining({
        action: 'run.create',
        principal: expect.objectContaining({ name: svc().runName, role: 'run' }),
        details: expect.objectContaining({ job: run.job, build: run.build }),
      }),
      expect.objectContaining({
        action: 'run.cancel',
        principal: expect.objectContaining({ name: canceller.name, role: 'run' }),
      }),
    ]);
    const raw = fs.readFileSync(file, 'utf8');
    for (const token of [svc().run, svc().read, canceller.token, svc().admin]) {
      expect(raw).not.toContain(token);
    }
  });

  it('a secret the notebook prints reaches no response, no file and no git object', async () => {
    const secret = `test-secret-${randomUUID()}`;
    const job = `test-${randomUUID()}/secrets`;
    const nb = makeNotebook([
      'import os\nprint("key is", os.environ["API_KEY"], flush=True)',
      'os.environ["API_KEY"]',
      'from IPython.display import HTML, display\ndisplay(HTML(f"<b>{os.environ[\'API_KEY\']}</b>"))',
      'raise ValueError("bad key " + os.environ["API_KEY"])',
    ]);
    const created = await create({ notebook: nb, job, build: '1', secrets: { API_KEY: secret } });
    expect(JSON.stringify(created)).not.toContain(secret);
    const stream = await openStream(svc().url, created.id, { token: svc().read });
    const run = await settled(svc(), created.id);
    expect(run.state).toBe('failed');
    expect(run.secrets).toEqual(['API_KEY']);

    const bodies: [string, string][] = [
      ['stream', JSON.stringify(stream.messages)],
      ['record', JSON.stringify(run)],
    ];
    for (const route of [
      `/api/v1/runs/${run.id}`,
      '/api/v1/runs',
      `/api/v1/runs/${run.id}/notebook`,
      `/api/v1/runs/${run.id}/junit`,
      `/api/v1/runs/${run.id}/html`,
      `/api/v1/runs/${run.id}/artifacts`,
      `/api/v1/jobs/${jobPath(job)}/builds`,
      `/api/v1/jobs/${jobPath(job)}/builds/1`,
      `/api/v1/jobs/${jobPath(job)}/builds/1/notebook`,
      '/metrics',
    ]) {
      const res = await get(route);
      expect([route, res.status]).toEqual([route, 200]);
      bodies.push([route, res.text]);
    }
    // The outputs are there, masked: this is not a run that printed nothing.
    const notebook = bodies.find(([r]) => r.endsWith('/notebook'))?.[1] ?? '';
    expect(notebookText(JSON.parse(notebook) as Notebook)).toContain('key is ****\n');
    expect(JSON.stringify(stream.messages)).toContain('key is ****');
    for (const [where, body] of bodies) {
      expect([where, body.includes(secret)]).toEqual([where, false]);
    }
    const files = filesUnder(svc().home).map((file) => [file, fs.readFileSync(file)] as const);
    for (const [file, data] of files) {
      expect([file, data.includes(secret)]).toEqual([file, false]);
    }
    // The scans read what was written: the masked output is on disk and in the history.
    expect(files.some(([, data]) => data.includes('key is ****'))).toBe(true);
    const objects = gitObjects(path.join(svc().home, 'history.git'));
    expect(objects.includes(run.id)).toBe(true);
    expect(objects.includes('key is ****')).toBe(true);
    expect(objects.includes(secret)).toBe(false);
    expect(svc().logs.join('\n')).not.toContain(secret);
  });
});
