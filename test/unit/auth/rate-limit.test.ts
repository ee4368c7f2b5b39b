/**
 * The token-bucket rate limiter over HTTP: a burst of `capacity`, then 429 NBSTAGE_RATE_LIMITED
 * with Retry-After; requests come back as the bucket refills; keys are limited apart. The clock
 * is injected, so nothing waits.
 */
import express from 'express';
import type { Request, Response } from 'express';
import request from 'supertest';
import { ValidationError } from '../../../pipelines/errors';
import { principalOrIp, rateLimit } from '../../../server/auth/rate-limit';
import type { RateLimitOptions } from '../../../server/auth/rate-limit';

function limitedApp(options: Partial<RateLimitOptions> & { now: () => number }): express.Express {
  const app = express();
  app.use(
    rateLimit({
      capacity: 3,
      refillPerSecond: 0.5,
      key: (req: Request) => req.get('X-Client') ?? 'anonymous',
      ...options,
    }),
  );
  app.get('/ping', (_req, res) => {
    res.json({ ok: true });
  });
  return app;
}

describe('rateLimit', () => {
  it('allows a burst of capacity, then answers 429 with Retry-After', async () => {
    const now = 1_000_000;
    const app = limitedApp({ now: () => now });
    for (let i = 0; i < 3; i++) {
      expect((await request(app).get('/ping')).status).toBe(200);
    }
    const res = await request(app).get('/ping');
    expect(res.status).toBe(429);
    // One request comes back every 2 s at 0.5 per second.
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body).toEqual({
      error: { code: 'NBSTAGE_RATE_LIMITED', message: expect.stringContaining('retry after 2 s') },
    });
  });

  it('refills over time, never beyond capacity', async () => {
    let now = 0;
    const app = limitedApp({ now: () => now });
    for (let i = 0; i < 3; i++) {
      await request(app).get('/ping');
    }
    expect((await request(app).get('/ping')).status).toBe(429);
    now += 1000;
    const half = await request(app).get('/ping');
    expect(half.status).toBe(429);
    expect(half.headers['retry-after']).toBe('1');
    now += 1000;
    expect((await request(app).get('/ping')).status).toBe(200);
    expect((await request(app).get('/ping')).status).toBe(429);
    now += 3_600_000;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await request(app).get('/ping')).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('keeps a bucket per key', async () => {
    const app = limitedApp({ now: () => 0, capacity: 1 });
    expect((await request(app).get('/ping').set('X-Client', 'a')).status).toBe(200);
    expect((await request(app).get('/ping').set('X-Client', 'a')).status).toBe(429);
    expect((await request(app).get('/ping').set('X-Client', 'b')).status).toBe(200);
  });

  it('keeps at most maxKeys buckets, forgetting full ones first', async () => {
    let now = 0;
    const app = limitedApp({ now: () => now, capacity: 1, refillPerSecond: 1, maxKeys: 2 });
    expect((await request(app).get('/ping').set('X-Client', 'a')).status).toBe(200);
    now += 5000; // a is full again
    expect((await request(app).get('/ping').set('X-Client', 'b')).status).toBe(200);
    expect((await request(app).get('/ping').set('X-Client', 'c')).status).toBe(200);
    // b is still empty: it was kept, so it is still limited.
    expect((await request(app).get('/ping').set('X-Client', 'b')).status).toBe(429);
  });

  it('rejects options out of range', () => {
    const key = (): string => 'k';
    expect(() => rateLimit({ capacity: 0, refillPerSecond: 1, key })).toThrow(ValidationError);
    expect(() => rateLimit({ capacity: 1, refillPerSecond: 0, key })).toThrow(ValidationError);
  });

  it('keys on the principal once authenticated, else on the address', () => {
    const req = { ip: '10.0.0.7', socket: {} } as Request;
    const anonymous = { locals: {} } as Response;
    expect(principalOrIp(req, anonymous)).toBe('ip:10.0.0.7');
    const known = { locals: { principal: { id: 'abc', name: 'n', role: 'run' } } } as Response;
    expect(principalOrIp(req, known)).toBe('principal:abc');
  });
});
