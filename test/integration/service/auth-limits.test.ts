/**
 * The failed-authentication limit on a real service, from several client addresses on the
 * loopback network (127.0.0.x, each its own client): 300 bad bearer tokens in a row get 401 for
 * the first 20 (NBSTAGE_AUTH_FAILURES_PER_MINUTE's default), then 429 NBSTAGE_RATE_LIMITED
 * with Retry-After, and so does a good token from that address while it waits, but not one from
 * another address; websocket joins and the login form draw on the same budget.
 */
import http from 'node:http';
import WebSocket from 'ws';
import { generateToken } from '../../../server/auth/tokens';
import { useService } from './service-fixture';

/** A request from a given local address (each 127.0.0.x counts as its own client). */
function send(
  url: string,
  route: string,
  options: { from: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${route}`,
      { method: options.method ?? 'GET', headers: options.headers, localAddress: options.from },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The status of a websocket join from a given local address (101 when it opened). */
function join(
  url: string,
  route: string,
  from: string,
  token: string,
): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${route}`, {
      headers: { Authorization: `Bearer ${token}` },
      localAddress: from,
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string });
      res.resume();
    });
    ws.on('error', reject);
  });
}

/** A well-formed token that is not stored. */
const BAD = generateToken().token;

describe('the failed-authentication limit', () => {
  const svc = useService();

  it('answers 300 bad bearer tokens in a row with 401, then 429 and Retry-After from the 21st on', async () => {
    const from = '127.0.0.11';
    const statuses: number[] = [];
    const retryAfter: string[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await send(svc().url, '/api/v1/jobs', {
        from,
        headers: { Authorization: `Bearer ${generateToken().token}` },
      });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter.push(String(res.headers['retry-after']));
        expect(JSON.parse(res.body).error.code).toBe('NBSTAGE_RATE_LIMITED');
      }
    }
    const first429 = statuses.indexOf(429);
    const counts = {
      401: statuses.filter((s) => s === 401).length,
      429: statuses.filter((s) => s === 429).length,
    };
    // Printed for the record: how many were refused, and from which attempt on.
    process.stdout.write(
      `300 bad tokens: ${JSON.stringify(counts)}, first 429 at #${first429 + 1}, Retry-After ${[...new Set(retryAfter)].join(',')} s\n`,
    );
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(280).fill(429));
    // 20 per minute: one attempt comes back every 3 s (less as time goes by).
    expect(retryAfter[0]).toBe('3');
    expect(retryAfter.every((r) => ['1', '2', '3'].includes(r))).toBe(true);

    // While it waits, a good token from that address is refused unchecked too; not elsewhere.
    const good = { Authorization: `Bearer ${svc().read}` };
    expect((await send(svc().url, '/api/v1/jobs', { from, headers: good })).status).toBe(429);
    expect(
      (await send(svc().url, '/api/v1/jobs', { from: '127.0.0.12', headers: good })).status,
    ).toBe(200);
    // A websocket from the same address draws on the same budget.
    const stream = await join(
      svc().url,
      '/api/v1/runs/00000000-0000-0000-0000-000000000000/stream',
      from,
      svc().read,
    );
    expect(stream).toEqual({ status: 429, retryAfter: '3' });
  });

  it('limits websocket joins with bad tokens the same way', async () => {
    const from = '127.0.0.13';
    const route = '/api/v1/runs/00000000-0000-0000-0000-000000000000/stream';
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push((await join(svc().url, route, from, BAD)).status);
    }
    expect(statuses).toEqual([...Array(20).fill(401), ...Array(10).fill(429)]);
    // A good token from another address still joins (404: no such run, past authentication).
    expect((await join(svc().url, route, '127.0.0.14', svc().read)).status).toBe(404);
  });

  it('limits wrong tokens on the login form, with a page saying how long to wait', async () => {
    const from = '127.0.0.15';
    const statuses: number[] = [];
    let last = { status: 0, headers: {} as http.IncomingHttpHeaders, body: '' };
    for (let i = 0; i < 25; i++) {
      last = await send(svc().url, '/login', {
        from,
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `token=${BAD}&next=%2F`,
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(20).fill(401), ...Array(5).fill(429)]);
    expect(last.headers['retry-after']).toBe('3');
    expect(last.headers['set-cookie']).toBeUndefined();
    expect(last.body).toContain(
      'Too many failed attempts to authenticate from this address: try again in 3 s.',
    );
  });
});
