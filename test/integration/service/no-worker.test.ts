/**
 * A run no live worker can take is queued with a warning that says so (the CLI prints it), not
 * left waiting without a word; it can still be cancelled.
 */
import request from 'supertest';
import { makeNotebook } from '../../helpers/notebooks';
import { bearer, settled, useService } from './service-fixture';

describe('a run that no worker can take', () => {
  const svc = useService({ workers: 1 });

  it('is queued with a warning naming the labels, and cancels', async () => {
    const created = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .send({ notebook: makeNotebook(['1']), labels: ['test-nobody-has-this'] });
    expect(created.status).toBe(201);
    expect(created.body.warnings).toEqual([
      'no worker with label(s) test-nobody-has-this is up now: the run waits in the queue until one is',
    ]);
    const plain = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .send({ notebook: makeNotebook(['1']) });
    expect(plain.body.warnings).toBeUndefined();
    await settled(svc(), plain.body.id as string);
    const cancelled = await request(svc().url)
      .post(`/api/v1/runs/${created.body.id as string}/cancel`)
      .set('Authorization', bearer(svc().run));
    expect(cancelled.status).toBe(202);
    expect((await settled(svc(), created.body.id as string)).state).toBe('cancelled');
  });
});
