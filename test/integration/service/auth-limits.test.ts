/**
 * The limits of authentication on a real service, from several client addresses on the
 * loopback network (127.0.0.x, each its own client): 300 bad bearer tokens in a row get 401 for
 * the first 20 (NBSTAGE_AUTH_FAILURES_PER_MINUTE's default), then 429 NBSTAGE_RATE_LIMITED
 * with Retry-After, and so does a good token from that address while it waits, but not one from
 * another address; websocket joins and the login form draw on the same budget. Of 300 streams
 * opened at once on one token, 64 (NBSTAGE_MAX_STREAMS_PER_TOKEN's default) open and the rest
 * are refused with 429, until one closes. Each limit is set by its variable.
 */
import http from 'node:http';
import WebSocket from 'ws';
import fs from 'node:fs';
import { generateToken } from '../../../server/auth/tokens';
import { createRun, gatePath, gatedNotebook } from '../web/web-fixture';
import { startService } from '../../../server/service';
import { tempDir } from '../../helpers/notebooks';
import { untilOutput, useService } from './service-fixture';

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

/** A stream that opened (and stays open until closed), or the status it was refused with. */
type Joined = { ws: WebSocket; closed: Promise<number> } | { status: number; body: string };

/** Opens a websocket from a given local address and leaves it open. */
function openFrom(url: string, route: string, from: string, token: string): Promise<Joined> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${route}`, {
      headers: { Authorization: `Bearer ${token}` },
      localAddress: from,
    });
    const closed = new Promise<number>((done) => ws.on('close', (code) => done(code)));
    ws.on('open', () => resolve({ ws, closed }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', reject);
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
    const started = Date.now();
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
    // The budget refills by one every 3 s: on a slow machine the 300 take longer than that.
    const refills = Math.floor((Date.now() - started) / 3000);
    expect(statuses.slice(20).filter((s) => s !== 429).length).toBeLessThanOrEqual(refills);
    expect(statuses.slice(20).filter((s) => s !== 429 && s !== 401)).toEqual([]);
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

  it('opens 64 streams of one token at once and refuses the rest with 429, until one closes', async () => {
    const gate = gatePath();
    const run = await createRun(svc().url, svc().run, {
      notebook: gatedNotebook(),
      parameters: { gate },
      job: 'test-stream-cap',
    });
    await untilOutput(svc().url, svc().read, run.id, 'first output');
    const route = `/api/v1/runs/${run.id}/stream`;
    const from = '127.0.0.21';
    const joined = await Promise.all(
      Array.from({ length: 300 }, () => openFrom(svc().url, route, from, svc().read)),
    );
    const open = joined.filter((j): j is Extract<Joined, { ws: WebSocket }> => 'ws' in j);
    const refused = joined.filter((j): j is Extract<Joined, { status: number }> => 'status' in j);
    process.stdout.write(
      `300 streams on one token: ${open.length} open, ${refused.length} refused (${[...new Set(refused.map((r) => r.status))].join(',')})\n`,
    );
    expect(open).toHaveLength(64);
    expect(refused).toHaveLength(236);
    for (const r of refused) {
      expect(r.status).toBe(429);
      const error = JSON.parse(r.body).error;
      expect(error.code).toBe('NBSTAGE_RATE_LIMITED');
      expect(error.message).toContain('already has 64 run streams open');
      expect(error.message).not.toContain(svc().read);
    }
    // Another token is not held back by this one.
    const other = await openFrom(svc().url, route, from, svc().run);
    expect('ws' in other).toBe(true);
    // A slot comes free when a stream closes.
    open[0].ws.close();
    await open[0].closed;
    const again = await openFrom(svc().url, route, from, svc().read);
    expect('ws' in again).toBe(true);
    const refusedAgain = await openFrom(svc().url, route, from, svc().read);
    expect('status' in refusedAgain && refusedAgain.status).toBe(429);
    // The run ends: every stream still open is closed with 1000.
    fs.writeFileSync(gate, '');
    const still = [...open.slice(1), again, other].filter(
      (j): j is Extract<Joined, { ws: WebSocket }> => 'ws' in j,
    );
    expect(new Set(await Promise.all(still.map((j) => j.closed)))).toEqual(new Set([1000]));
  });
});

describe('the limits set in the environment', () => {
  const svc = useService({
    env: {
      NBSTAGE_AUTH_FAILURES_PER_MINUTE: '3',
      NBSTAGE_MAX_STREAMS_PER_TOKEN: '2',
      NBSTAGE_SESSION_SECONDS: '1',
    },
  });

  it('follows NBSTAGE_AUTH_FAILURES_PER_MINUTE', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(svc().url, '/api/v1/jobs', {
        from: '127.0.0.31',
        headers: { Authorization: `Bearer ${BAD}` },
      });
      statuses.push(`${res.status} ${res.headers['retry-after'] ?? '-'}`);
    }
    // 3 per minute: one comes back every 20 s.
    expect(statuses).toEqual(['401 -', '401 -', '401 -', '429 20', '429 20']);
  });

  it('follows NBSTAGE_MAX_STREAMS_PER_TOKEN', async () => {
    const gate = gatePath();
    const run = await createRun(svc().url, svc().run, {
      notebook: gatedNotebook(),
      parameters: { gate },
      job: 'test-stream-cap-env',
    });
    await untilOutput(svc().url, svc().read, run.id, 'first output');
    const route = `/api/v1/runs/${run.id}/stream`;
    const joined = await Promise.all(
      [1, 2, 3].map(() => openFrom(svc().url, route, '127.0.0.32', svc().read)),
    );
    expect(joined.map((j) => ('ws' in j ? 101 : j.status)).sort()).toEqual([101, 101, 429]);
    fs.writeFileSync(gate, '');
    for (const j of joined) {
      if ('ws' in j) {
        expect(await j.closed).toBe(1000);
      }
    }
  });

  it('follows NBSTAGE_SESSION_SECONDS: the cookie lasts that long, and so does the session', async () => {
    const login = await send(svc().url, '/login', {
      from: '127.0.0.33',
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(svc().read)}&next=%2F`,
    });
    expect(login.status).toBe(303);
    const set = String(login.headers['set-cookie']?.[0]);
    expect(set).toMatch(/; Max-Age=1$/);
    const session = { Cookie: set.split(';')[0] };
    const before = await send(svc().url, '/api/v1/jobs', { from: '127.0.0.33', headers: session });
    expect(before.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const after = await send(svc().url, '/api/v1/jobs', { from: '127.0.0.33', headers: session });
    expect(after.status).toBe(401);
  });

  it('refuses to start on a value that is not a positive integer, naming the variable', async () => {
    await expect(
      startService({ home: tempDir(), port: 0, env: { NBSTAGE_MAX_STREAMS_PER_TOKEN: 'lots' } }),
    ).rejects.toThrow(/^NBSTAGE_MAX_STREAMS_PER_TOKEN: must be a positive integer, got "lots"$/);
  });
});

describe('clients behind a reverse proxy (NBSTAGE_TRUST_PROXY)', () => {
  const trusted = useService({
    env: { NBSTAGE_AUTH_FAILURES_PER_MINUTE: '2', NBSTAGE_TRUST_PROXY: '127.0.0.41' },
  });

  /** Three bad tokens of `client`, forwarded by the proxy at `proxy`; their statuses. */
  async function badFrom(url: string, proxy: string, client: string): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await send(url, '/api/v1/jobs', {
        from: proxy,
        headers: { Authorization: `Bearer ${BAD}`, 'X-Forwarded-For': client },
      });
      statuses.push(res.status);
    }
    return statuses;
  }

  it('counts each forwarded client on its own when the proxy is trusted', async () => {
    expect(await badFrom(trusted().url, '127.0.0.41', '203.0.113.7')).toEqual([401, 401, 429]);
    // Another client behind the same proxy still has its budget.
    expect(await badFrom(trusted().url, '127.0.0.41', '203.0.113.8')).toEqual([401, 401, 429]);
  });

  it('ignores X-Forwarded-For from a peer it does not trust: a client cannot pick its address', async () => {
    const statuses: number[] = [];
    for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      const res = await send(trusted().url, '/api/v1/jobs', {
        from: '127.0.0.42',
        headers: { Authorization: `Bearer ${BAD}`, 'X-Forwarded-For': client },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('refuses to start on a value it cannot read, naming the variable', async () => {
    await expect(
      startService({ home: tempDir(), port: 0, env: { NBSTAGE_TRUST_PROXY: 'not an address' } }),
    ).rejects.toThrow(/^NBSTAGE_TRUST_PROXY: .*not an address/);
  });
});
