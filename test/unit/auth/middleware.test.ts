/**
 * The auth middleware over HTTP (supertest on a small express app backed by a real file token
 * store): 401 without or with a bad token, with `WWW-Authenticate: Bearer`; 403 naming the role
 * for a weaker token; 200 with the principal for a good one; no response ever echoes a token.
 * Also the helpers of the websocket upgrade path.
 */
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import type { Response as TestResponse } from 'supertest';
import { NbstageError } from '../../../pipelines/errors';
import { Authenticator } from '../../../server/auth/authenticator';
import {
  authenticateRequest,
  bearerToken,
  principalOf,
  redactTokenQuery,
  requireRole,
  tokenFromRequest,
} from '../../../server/auth/middleware';
import { fileTokenStore, generateToken, tokensFile } from '../../../server/auth/tokens';
import type { TokenStore } from '../../../server/auth/tokens';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';

const ADMIN = 'bootstrap-admin-secret-0123456789';

afterAll(cleanupDirs);

function app(store: TokenStore): express.Express {
  const auth = new Authenticator({ tokens: store });
  const a = express();
  a.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  a.use('/api/v1', requireRole(auth, 'read'));
  a.get('/api/v1/runs', (_req, res) => {
    res.json({ principal: principalOf(res) });
  });
  a.post('/api/v1/runs', requireRole(auth, 'run'), (_req, res) => {
    res.status(201).json({ principal: res.locals.principal });
  });
  a.delete('/api/v1/tokens/:id', requireRole(auth, 'admin'), (_req, res) => {
    res.status(204).end();
  });
  a.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof NbstageError ? err.status : 500;
    res.status(status).json({ error: { code: 'TEST_HANDLER', message: 'store failed' } });
  });
  return a;
}

describe('requireRole', () => {
  let store: TokenStore;
  let tokens: { read: string; run: string; admin: string };
  const seen: TestResponse[] = [];
  const all = (): string[] => [...Object.values(tokens), ADMIN];

  const send = async (
    method: 'get' | 'post' | 'delete',
    url: string,
    authorization?: string,
  ): Promise<TestResponse> => {
    let req = request(app(store))[method](url);
    if (authorization !== undefined) {
      req = req.set('Authorization', authorization);
    }
    const res = await req;
    seen.push(res);
    return res;
  };

  beforeAll(async () => {
    store = fileTokenStore(tokensFile(path.join(tempDir(), 'home')), { adminToken: ADMIN });
    tokens = {
      read: (await store.create({ role: 'read', name: 'reader' })).token,
      run: (await store.create({ role: 'run', name: 'jenkins' })).token,
      admin: (await store.create({ role: 'admin', name: 'ops' })).token,
    };
  });

  it('lets health through without a token', async () => {
    expect((await send('get', '/healthz')).status).toBe(200);
  });

  it('answers 401 with WWW-Authenticate when the header is missing', async () => {
    const res = await send('get', '/api/v1/runs');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="nbstage"');
    expect(res.body).toEqual({
      error: { code: 'NBSTAGE_UNAUTHORIZED', message: expect.stringContaining('Bearer') },
    });
  });

  it('answers 401 for an unknown token, a malformed header and another scheme', async () => {
    for (const header of [
      `Bearer ${generateToken().token}`,
      `Bearer ${tokens.run.slice(0, -2)}`,
      'Bearer',
      `Basic ${Buffer.from(`u:${tokens.admin}`).toString('base64')}`,
      tokens.admin,
    ]) {
      const res = await send('get', '/api/v1/runs', header);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('NBSTAGE_UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toMatch(
        /^Bearer realm="nbstage", error="invalid_token"$/,
      );
    }
  });

  it('answers 403 naming the role needed when the token is too weak', async () => {
    const res = await send('post', '/api/v1/runs', `Bearer ${tokens.read}`);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('NBSTAGE_FORBIDDEN');
    expect(res.body.error.message).toMatch(/role "run".*"reader".*role "read"/);
    const admin = await send('delete', '/api/v1/tokens/x', `Bearer ${tokens.run}`);
    expect(admin.status).toBe(403);
    expect(admin.body.error.message).toContain('role "admin"');
  });

  it('lets a strong enough token through and sets the principal', async () => {
    const read = await send('get', '/api/v1/runs', `Bearer ${tokens.read}`);
    expect(read.status).toBe(200);
    expect(read.body.principal).toEqual({ id: expect.any(String), name: 'reader', role: 'read' });
    const run = await send('post', '/api/v1/runs', `bearer  ${tokens.run}`);
    expect(run.status).toBe(201);
    expect(run.body.principal).toMatchObject({ name: 'jenkins', role: 'run' });
    expect((await send('post', '/api/v1/runs', `Bearer ${tokens.admin}`)).status).toBe(201);
    expect((await send('delete', '/api/v1/tokens/x', `Bearer ${tokens.admin}`)).status).toBe(204);
  });

  it('accepts the bootstrap admin token', async () => {
    const res = await send('delete', '/api/v1/tokens/x', `Bearer ${ADMIN}`);
    expect(res.status).toBe(204);
  });

  it('refuses a revoked token from the next request on', async () => {
    const { token, record } = await store.create({ role: 'run', name: 'short-lived' });
    expect((await send('get', '/api/v1/runs', `Bearer ${token}`)).status).toBe(200);
    await store.revoke(record.id);
    expect((await send('get', '/api/v1/runs', `Bearer ${token}`)).status).toBe(401);
  });

  it('passes errors of the store to the error handler', async () => {
    const broken: TokenStore = {
      create: () => Promise.reject(new Error('no')),
      verify: () => Promise.reject(new NbstageError('NBSTAGE_X', 'secret path', 2, 503)),
      principal: () => Promise.resolve(null),
      list: () => Promise.resolve([]),
      revoke: () => Promise.resolve(false),
    };
    const res = await request(app(broken))
      .get('/api/v1/runs')
      .set('Authorization', `Bearer ${tokens.read}`);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('TEST_HANDLER');
  });

  it('never echoed a token in any answer, body or header', () => {
    expect(seen.length).toBeGreaterThan(15);
    for (const res of seen) {
      const everything = JSON.stringify(res.headers) + res.text;
      for (const token of all()) {
        expect(everything).not.toContain(token);
      }
    }
  });
});

describe('websocket helpers', () => {
  const fakeRequest = (url: string, authorization?: string): IncomingMessage =>
    ({
      url,
      headers: authorization === undefined ? {} : { authorization },
      socket: { remoteAddress: '127.0.0.1' },
    }) as unknown as IncomingMessage;

  it('parses Bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('BEARER\tabc ')).toBe('abc');
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken('Token abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('takes the token from the header, else from the query', () => {
    expect(tokenFromRequest(fakeRequest('/api/v1/runs/1/stream?token=q', 'Bearer h'))).toBe('h');
    expect(tokenFromRequest(fakeRequest('/api/v1/runs/1/stream?x=1&token=q%2Bz'))).toBe('q+z');
    expect(tokenFromRequest(fakeRequest('/api/v1/runs/1/stream?token='))).toBeUndefined();
    expect(tokenFromRequest(fakeRequest('/api/v1/runs/1/stream'))).toBeUndefined();
  });

  it('authenticates upgrade requests by header or query', async () => {
    const store = fileTokenStore(tokensFile(path.join(tempDir(), 'home')));
    const auth = new Authenticator({ tokens: store });
    const { token } = await store.create({ role: 'read', name: 'browser' });
    expect(await authenticateRequest(auth, fakeRequest('/s', `Bearer ${token}`))).toMatchObject({
      ok: true,
      principal: { name: 'browser' },
    });
    const upgrade = fakeRequest(`/api/v1/runs/1/stream?token=${encodeURIComponent(token)}`);
    expect(await authenticateRequest(auth, upgrade)).toMatchObject({
      ok: true,
      principal: { role: 'read' },
    });
    const wrong = fakeRequest('/s', `Bearer ${generateToken().token}`);
    expect(await authenticateRequest(auth, wrong)).toEqual({ ok: false, limited: false });
    expect(await authenticateRequest(auth, fakeRequest('/stream'))).toBeNull();
  });

  it('redacts the token query parameter for logs', () => {
    expect(redactTokenQuery('/s?token=nbs_abc&x=1')).toBe('/s?token=****&x=1');
    expect(redactTokenQuery('/s?x=1&token=nbs_abc#f')).toBe('/s?x=1&token=****#f');
    expect(redactTokenQuery('/s?mytoken=1')).toBe('/s?mytoken=1');
  });
});
