/**
 * Sessions on the service: runs naming the same session share one kernel (its state carries
 * over), and `POST /api/v1/sessions/:session/close` (the `nbstageClose` step, `nbstage session
 * close`) lets the worker go of it and shuts the kernel down: the next run of that session starts
 * on a fresh kernel. Closing needs role run.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import type { ServiceRun } from '../../../server/runs/service-run';
import { cellText, makeNotebook, runCli } from '../../helpers/notebooks';
import { bearer, settled, useService } from './service-fixture';

describe('sessions on the service', () => {
  const svc = useService();

  async function runIn(
    session: string,
    source: string,
  ): Promise<{ run: ServiceRun; nb: Notebook }> {
    const created = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .send({ notebook: makeNotebook([source]), session, job: `test-${randomUUID()}` });
    expect(created.status).toBe(201);
    const run = await settled(svc(), created.body.id as string);
    const nb = await request(svc().url)
      .get(`/api/v1/runs/${run.id}/notebook`)
      .set('Authorization', bearer(svc().read));
    return { run, nb: nb.body as Notebook };
  }

  async function holders(session: string): Promise<string[]> {
    const res = await request(svc().url)
      .get('/api/v1/workers')
      .set('Authorization', bearer(svc().read));
    return (res.body as { id: string; sessions: string[] }[])
      .filter((w) => w.sessions.includes(session))
      .map((w) => w.id);
  }

  it("gives a later stage on the session's kernel its own parameters", async () => {
    const session = `test-${randomUUID()}`;
    const notebook = makeNotebook([
      { source: 'n = 1', tags: ['parameters'] },
      { source: 'print("a", n)', tags: ['stage:a'] },
      { source: 'print("b", n)', tags: ['stage:b'] },
    ]);
    const stage = async (name: string, n: number): Promise<string> => {
      const created = await request(svc().url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(svc().run))
        .send({
          notebook,
          session,
          stages: [name],
          parameters: { n },
          job: `test-${randomUUID()}`,
        });
      expect(created.status).toBe(201);
      const run = await settled(svc(), created.body.id as string);
      expect(run.state).toBe('completed');
      const nb = await request(svc().url)
        .get(`/api/v1/runs/${run.id}/notebook`)
        .set('Authorization', bearer(svc().read));
      return (nb.body as Notebook).cells.map((_, i) => cellText(nb.body as Notebook, i)).join('');
    };
    expect(await stage('a', 2)).toContain('a 2');
    // The preamble already ran on this kernel; the injected parameters run again, as new.
    expect(await stage('b', 5)).toContain('b 5');
  });

  it('keeps state across runs of a session until it is closed', async () => {
    const session = `test-${randomUUID()}`;
    expect((await runIn(session, 'carried = 41')).run.state).toBe('completed');
    const second = await runIn(session, 'print(carried + 1)');
    expect(second.run.state).toBe('completed');
    expect(cellText(second.nb, 0)).toBe('42\n');
    expect(await holders(session)).toHaveLength(1);

    const closed = await request(svc().url)
      .post(`/api/v1/sessions/${encodeURIComponent(session)}/close`)
      .set('Authorization', bearer(svc().run));
    expect(closed.status).toBe(200);
    expect(closed.body).toEqual({ session, closed: true });
    expect(await holders(session)).toEqual([]);

    const after = await runIn(session, 'print(carried)');
    expect(after.run.state).toBe('failed');
    expect(JSON.stringify(after.nb.cells[0])).toContain('NameError');
  });

  it('closes through the CLI, and refuses a read token', async () => {
    const session = `test-${randomUUID()}`;
    expect((await runIn(session, 'kept = 1')).run.state).toBe('completed');
    const denied = await request(svc().url)
      .post(`/api/v1/sessions/${session}/close`)
      .set('Authorization', bearer(svc().read));
    expect(denied.status).toBe(403);
    expect(await holders(session)).toHaveLength(1);

    const cli = await runCli(['session', 'close', session, '--server', svc().url], {
      env: { NBSTAGE_TOKEN: svc().run },
    });
    expect(cli.stderr).toContain(`session ${session} closed`);
    expect(cli.code).toBe(0);
    expect(await holders(session)).toEqual([]);
    const noToken = await runCli(['session', 'close', session, '--server', svc().url], {
      env: { NBSTAGE_TOKEN: '' },
    });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/NBSTAGE_TOKEN/);
  });
});
