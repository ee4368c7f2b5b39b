/**
 * The web page over HTTP (supertest on one real service; the faster tier under the browser
 * suite): pages redirect to the login form without a valid token and never to another site;
 * logging in sets an HttpOnly, SameSite=Strict cookie (Secure over https) holding a session id,
 * not the token, and only from this origin; logging out ends the session on the server, and
 * revoking its token ends it too; the cookie authenticates pages, API reads and same-origin
 * websockets, but an unsafe API request it authenticates needs the CSRF header and this origin;
 * every page sends a strict
 * policy; the pages show jobs, builds (Jenkins links, metrics, one trend chart per metric), a
 * version with its HTML output in a sandboxed frame, a diff (with its environments), and a run
 * with its cancel button for run tokens only; assets are served without login.
 */
import fs from 'node:fs';
import request from 'supertest';
import WebSocket from 'ws';
import { LOGIN_COOKIE } from '../../../server/auth/middleware';
import { fileTokenStore, tokenId, tokensFile } from '../../../server/auth/tokens';
import { LEGACY_LOGIN_COOKIE, safeNext } from '../../../server/web/login';
import { bearer, jobPath, untilOutput, useService } from '../service/service-fixture';
import {
  createRun,
  gatePath,
  gatedNotebook,
  jobName,
  seedBuilds,
  untilVersioned,
} from './web-fixture';

describe('the web page over HTTP', () => {
  const svc = useService();
  const job = jobName();
  /** Logs `token` in through the form; the `Cookie` header of the session it started. */
  const logIn = async (token: string): Promise<string> => {
    const res = await request(svc().url).post('/login').type('form').send({ token, next: '/' });
    expect(res.status).toBe(303);
    const set = (res.headers['set-cookie'] as unknown as string[])[0];
    return set.split(';')[0];
  };
  /** One logged-in session per token, made in beforeAll. */
  const sessions = new Map<string, string>();
  const cookie = (token: string): string => {
    const header = sessions.get(token);
    if (header === undefined) {
      throw new Error('no session for that token');
    }
    return header;
  };
  const page = (route: string, token = svc().read): request.Test =>
    request(svc().url).get(route).set('Cookie', cookie(token));

  beforeAll(async () => {
    await seedBuilds(svc().url, svc().run, job);
    for (const token of [svc().read, svc().run]) {
      sessions.set(token, await logIn(token));
    }
  });

  describe('login', () => {
    it('redirects a page request without a valid token to the login form, keeping where it went', async () => {
      const target = `/jobs/${jobPath(job)}/builds/2?x=1`;
      for (const req of [
        request(svc().url).get(target),
        request(svc().url).get(target).set('Cookie', `${LOGIN_COOKIE}=nbs_not-a-session`),
        // The cookie of nbstage before sessions held the token itself: it is no credential now.
        request(svc().url).get(target).set('Cookie', `${LEGACY_LOGIN_COOKIE}=${svc().read}`),
        request(svc().url).get(target).set('Cookie', `${LOGIN_COOKIE}=${svc().read}`),
        request(svc().url).get(target).set('Authorization', 'Bearer nbs_wrong'),
      ]) {
        const res = await req;
        expect(res.status).toBe(303);
        expect(res.headers.location).toBe(`/login?next=${encodeURIComponent(target)}`);
      }
      const root = await request(svc().url).get('/');
      expect(root.status).toBe(303);
      expect(root.headers.location).toBe('/login');
    });

    it('accepts only same-site paths as where to go next', () => {
      expect(safeNext('/jobs/a%2Fb?x=1#c')).toBe('/jobs/a%2Fb?x=1#c');
      for (const bad of [
        'https://evil.example/',
        '//evil.example/x',
        '/\\evil.example',
        '\\\\evil.example',
        'javascript:alert(1)',
        '/login?next=/x',
        '/logout',
        '/jobs/x\n',
        '',
        undefined,
        ['/a'],
      ]) {
        expect(safeNext(bad)).toBe('/');
      }
    });

    it('shows the form under the strict policy and keeps a safe next only', async () => {
      const res = await request(svc().url).get('/login?next=%2F%2Fevil.example');
      expect(res.status).toBe(200);
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.text).toContain('<input type="hidden" name="next" value="/">');
    });

    it('refuses a wrong token with the form again and no cookie', async () => {
      const res = await request(svc().url)
        .post('/login')
        .type('form')
        .send({ token: 'nbs_wrong', next: '/' });
      expect(res.status).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.text).toContain('unknown or revoked');
      expect(res.text).not.toContain('nbs_wrong');
    });

    it('sets an HttpOnly, SameSite=Strict cookie holding a session id, not the token', async () => {
      const res = await request(svc().url)
        .post('/login')
        .type('form')
        .set('Cookie', `${LEGACY_LOGIN_COOKIE}=${svc().read}`)
        .send({ token: svc().read, next: `/jobs/${jobPath(job)}` });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/jobs/${jobPath(job)}`);
      const set = res.headers['set-cookie'] as unknown as string[];
      expect(set[0]).toMatch(
        new RegExp(
          `^${LOGIN_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200$`,
        ),
      );
      expect(set.join('\n')).not.toContain(svc().read);
      // The cookie of nbstage before sessions, which held the token, is removed.
      expect(set[1]).toBe(`${LEGACY_LOGIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      const again = await request(svc().url).get('/').set('Cookie', set[0].split(';')[0]);
      expect(again.status).toBe(200);

      const https = await request(svc().url)
        .post('/login')
        .set('X-Forwarded-Proto', 'https')
        .type('form')
        .send({ token: svc().admin, next: 'https://evil.example/' });
      expect(https.headers.location).toBe('/');
      expect((https.headers['set-cookie'] as unknown as string[])[0]).toMatch(
        /; HttpOnly; SameSite=Strict; Secure; Max-Age=43200$/,
      );
    });

    it('refuses logging in or out from another site', async () => {
      const login = await request(svc().url)
        .post('/login')
        .set('Origin', 'https://evil.example')
        .type('form')
        .send({ token: svc().read });
      expect(login.status).toBe(403);
      expect(login.headers['set-cookie']).toBeUndefined();
      const own = await logIn(svc().read);
      const logout = await request(svc().url)
        .post('/logout')
        .set('Sec-Fetch-Site', 'cross-site')
        .set('Cookie', own);
      expect(logout.status).toBe(403);
      // Not logged out: the session still works.
      expect((await request(svc().url).get('/').set('Cookie', own)).status).toBe(200);
      const ok = await request(svc().url).post('/logout').set('Cookie', own);
      expect(ok.status).toBe(303);
      expect(ok.headers.location).toBe('/login');
      expect((ok.headers['set-cookie'] as unknown as string[])[0]).toMatch(
        new RegExp(`^${LOGIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0$`),
      );
    });

    it('ends the session on logout: a copy of the cookie is refused everywhere after', async () => {
      const copy = await logIn(svc().run);
      const host = new URL(svc().url).host;
      const apiRead = (): request.Test =>
        request(svc().url).get('/api/v1/jobs').set('Cookie', copy);
      expect((await apiRead()).status).toBe(200);
      expect((await request(svc().url).post('/logout').set('Cookie', copy)).status).toBe(303);
      const page = await request(svc().url).get('/').set('Cookie', copy);
      expect(page.status).toBe(303);
      expect(page.headers.location).toBe('/login');
      // The dead session's cookie is removed on the way.
      expect((page.headers['set-cookie'] as unknown as string[])[0]).toMatch(/Max-Age=0$/);
      const api = await apiRead();
      expect(api.status).toBe(401);
      expect(api.body.error.message).toContain('log in again');
      const stream = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(
          `${svc().url.replace(/^http/, 'ws')}/api/v1/runs/00000000-0000-0000-0000-000000000000/stream`,
          { headers: { Cookie: copy, Origin: `http://${host}` } },
        );
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', reject);
      });
      expect(stream).toBe(401);
    });

    it('ends the sessions of a token when the token is revoked', async () => {
      const { token } = await svc().token('read');
      const first = await logIn(token);
      const second = await logIn(token);
      for (const session of [first, second]) {
        expect((await request(svc().url).get('/').set('Cookie', session)).status).toBe(200);
      }
      // Revoked as `nbstage token revoke` does, through the file another process would write.
      expect(await fileTokenStore(tokensFile(svc().home)).revoke(tokenId(token) ?? '')).toBe(true);
      for (const session of [first, second]) {
        const res = await request(svc().url).get('/api/v1/jobs').set('Cookie', session);
        expect(res.status).toBe(401);
        expect((await request(svc().url).get('/').set('Cookie', session)).status).toBe(303);
      }
    });
  });

  describe('the cookie on the API and the stream', () => {
    it('authenticates API reads', async () => {
      const res = await request(svc().url).get('/api/v1/jobs').set('Cookie', cookie(svc().read));
      expect(res.status).toBe(200);
      expect(res.body).toContain(job);
    });

    it('needs the CSRF header and this origin on unsafe requests', async () => {
      const gate = gatePath();
      const run = await createRun(svc().url, svc().run, {
        notebook: gatedNotebook(),
        parameters: { gate },
        job: `${job}-csrf`,
      });
      const cancel = (): request.Test =>
        request(svc().url).post(`/api/v1/runs/${run.id}/cancel`).set('Cookie', cookie(svc().run));
      const noHeader = await cancel();
      expect(noHeader.status).toBe(403);
      expect(noHeader.body.error.code).toBe('NBSTAGE_FORBIDDEN');
      expect(noHeader.body.error.message).toContain('x-nbstage-request');
      const otherOrigin = await cancel()
        .set('X-Nbstage-Request', '1')
        .set('Origin', 'https://evil.example');
      expect(otherOrigin.status).toBe(403);
      const crossSite = await cancel()
        .set('X-Nbstage-Request', '1')
        .set('Sec-Fetch-Site', 'same-site');
      expect(crossSite.status).toBe(403);
      // A read token's cookie is still only a read token.
      const weak = await request(svc().url)
        .post(`/api/v1/runs/${run.id}/cancel`)
        .set('Cookie', cookie(svc().read))
        .set('X-Nbstage-Request', '1');
      expect(weak.status).toBe(403);
      expect(weak.body.error.message).toContain('role "run"');
      const host = new URL(svc().url).host;
      const ok = await cancel()
        .set('X-Nbstage-Request', '1')
        .set('Origin', `http://${host}`)
        .set('Sec-Fetch-Site', 'same-origin');
      expect(ok.status).toBe(202);
      expect((await untilVersioned(svc().url, svc().run, run.id)).state).toBe('cancelled');
      fs.writeFileSync(gate, '');
    });

    it('leaves bearer requests as they were', async () => {
      const res = await request(svc().url)
        .post('/api/v1/runs/00000000-0000-0000-0000-000000000000/cancel')
        .set('Authorization', bearer(svc().run));
      expect(res.status).toBe(404);
      const none = await request(svc().url).get('/api/v1/jobs');
      expect(none.status).toBe(401);
      expect(none.body.error.message).toContain('Authorization: Bearer');
    });

    it('joins a run stream by cookie from this origin only', async () => {
      const run = await createRun(svc().url, svc().run, {
        notebook: gatedNotebook(),
        parameters: { gate: '/' },
        job: `${job}-ws`,
      });
      await untilVersioned(svc().url, svc().run, run.id);
      const host = new URL(svc().url).host;
      const join = (origin: string | null): Promise<number> =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(
            `${svc().url.replace(/^http/, 'ws')}/api/v1/runs/${run.id}/stream`,
            {
              headers: {
                Cookie: cookie(svc().read),
                ...(origin === null ? {} : { Origin: origin }),
              },
            },
          );
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('close', (code) => resolve(code));
          ws.on('error', reject);
        });
      expect(await join(`http://${host}`)).toBe(1000);
      expect(await join('https://evil.example')).toBe(401);
      expect(await join(null)).toBe(401);
    });
  });

  describe('pages', () => {
    it('sends every page with the strict policy and no caching', async () => {
      const res = await page('/');
      expect(res.status).toBe(200);
      expect(res.headers['content-security-policy']).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain(`href="/jobs/${jobPath(job)}"`);
      expect(res.text).not.toMatch(/<script>|style="/);
    });

    it("lists a job's builds with Jenkins links, metrics and a trend chart per metric", async () => {
      const res = await page(`/jobs/${jobPath(job)}`);
      expect(res.status).toBe(200);
      for (const build of ['1', '2', '3']) {
        expect(res.text).toContain(`href="/jobs/${jobPath(job)}/builds/${build}"`);
        expect(res.text).toContain(`href="https://jenkins.example.org/job/team/job/web/${build}/"`);
      }
      expect(res.text.match(/<svg class="trend-chart"/g)).toHaveLength(2);
      expect(res.text).toContain('data-metric="accuracy"');
      expect(res.text).toContain('data-metric="loss"');
      expect(res.text).toContain('<td class="number">0.8</td>');
      expect(res.text).toContain(`/jobs/${jobPath(job)}/diff?a=2&amp;b=3`);
    });

    it('answers 404 pages for unknown jobs, builds and runs', async () => {
      for (const route of [
        `/jobs/${jobPath(`${job}-nope`)}`,
        `/jobs/${jobPath(job)}/builds/99`,
        '/runs/00000000-0000-0000-0000-000000000000',
      ]) {
        const res = await page(route);
        expect(res.status).toBe(404);
        expect(res.type).toBe('text/html');
      }
      const diff = await page(`/jobs/${jobPath(job)}/diff?a=1`);
      expect(diff.status).toBe(400);
      expect(diff.text).toContain('name two builds');
    });

    it('shows a version with its HTML output only inside a sandboxed frame', async () => {
      const res = await page(`/jobs/${jobPath(job)}/builds/3`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('<h1>Training report</h1>');
      expect(res.text).toContain('<span class="ansi-red-fg">red text</span>');
      expect(res.text).toMatch(/<img src="data:image\/png;base64,/);
      const frames = res.text.match(/<iframe [^>]*>/g) ?? [];
      expect(frames).toHaveLength(1);
      expect(frames[0]).toContain('sandbox="allow-scripts"');
      expect(frames[0]).not.toContain('allow-same-origin');
      // Outside the frame's escaped srcdoc, the output's markup never reaches the page.
      const outside = res.text.replace(/srcdoc="[^"]*"/g, '');
      expect(outside).not.toContain('<script>document');
      expect(outside).not.toContain('<p id="inner">');
      expect(outside).not.toContain('onerror="');
      expect(res.text).toContain('href="https://jenkins.example.org/job/team/job/web/3/"');
    });

    it('shows a diff of two builds: metrics, parameters and changed cells side by side', async () => {
      const res = await page(`/jobs/${jobPath(job)}/diff?a=1&b=3`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('data-name="accuracy"');
      expect(res.text).toContain('data-name="lr"');
      expect(res.text).toContain('<td class="line removed"><code>print(&quot;\\x1b[31mred text');
      expect(res.text).toContain('variant 2');
      expect(res.text).toMatch(/<span class="delta down">-0\.2<\/span>/);
      // Both builds ran on this service's kernel: the environments they recorded are the same.
      expect(res.text).toContain(
        '<section class="panel env-changes"><h2>Environment</h2><p class="muted same-environment">Same environment.</p></section>',
      );
    });

    it('shows a running run with the cancel button for run tokens only', async () => {
      const gate = gatePath();
      const run = await createRun(svc().url, svc().run, {
        notebook: gatedNotebook(),
        parameters: { gate },
        job: `${job}-live`,
      });
      await untilOutput(svc().url, svc().read, run.id, 'first output');
      const asRun = await page(`/runs/${run.id}`, svc().run);
      expect(asRun.status).toBe(200);
      expect(asRun.text).toContain('data-cancel');
      expect(asRun.text).toContain('first output');
      expect(asRun.text).toMatch(/<progress max="5" value="[23]">/);
      // Cells the run has yet to finish say so (the report would call them "not in this run").
      expect(asRun.text).toMatch(/data-index="4">[^]*waiting-chip/);
      const asRead = await page(`/runs/${run.id}`, svc().read);
      expect(asRead.text).not.toContain('data-cancel');
      const cell = await page(`/runs/${run.id}/cells/2`, svc().read);
      expect(cell.status).toBe(200);
      expect(cell.text).toMatch(/^<div class="nb-cell" data-index="2">/);
      expect(cell.text).toContain('first output');
      const unauth = await request(svc().url).get(`/runs/${run.id}/cells/1`);
      expect(unauth.status).toBe(401);
      fs.writeFileSync(gate, '');
      expect((await untilVersioned(svc().url, svc().run, run.id)).state).toBe('completed');
      const after = await page(`/runs/${run.id}`, svc().run);
      expect(after.text).not.toContain('data-cancel');
      expect(after.text).toContain('third output');
    });

    it('serves its assets without login, and nothing else from disk', async () => {
      for (const [name, type] of [
        ['web.css', 'text/css'],
        ['report.css', 'text/css'],
        ['live.js', 'text/javascript'],
        ['frame.js', 'text/javascript'],
      ]) {
        const res = await request(svc().url).get(`/assets/${name}`);
        expect(res.status).toBe(200);
        expect(res.type).toBe(type);
      }
      for (const bad of ['/assets/..%2F..%2Fpackage.json', '/assets/routes.ts', '/assets/%2e%2e']) {
        expect((await request(svc().url).get(bad)).status).toBe(404);
      }
    });
  });
});
