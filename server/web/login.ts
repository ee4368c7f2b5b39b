/**
 * Logging in to the web page: the login form takes a token, checks it against the token store,
 * starts a login session for it and keeps the session's id in the login cookie (HttpOnly,
 * SameSite=Strict, Path=/, Secure over https, Max-Age the session's lifetime); the token itself
 * never leaves the form's request. Logging out ends the session on the server, so a copy of the
 * cookie is worth nothing afterwards; revoking the token ends its sessions too. Pages without a
 * live session redirect to the form, which sends the user back where they were going (same-site
 * paths only: never an open redirect). Logging in and out must come from this origin, so no
 * other site can log a browser in with its own token or out.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { credentialOf, type AuthOutcome, type Authenticator } from '../auth/authenticator';
import {
  bearerToken,
  cookieValue,
  LOGIN_COOKIE,
  loginSessionId,
  sameOrigin,
} from '../auth/middleware';
import { hasControlCharacter } from '../store/control-chars';
import { renderPage, sendPage } from './layout';
import { loginPage } from './pages/login-page';

/** Stands in for this origin when a `next` value is resolved, to see whether it leaves it. */
const PROBE_ORIGIN = 'http://nbstage.invalid';

/** The longest `next` kept; a longer one gives `/`. */
const MAX_NEXT_LENGTH = 2048;

/**
 * `next` resolved as a path on this site, or `null` when it is not one: it must start with one
 * `/` and hold no `\` (browsers read it as `/`) and no control character (they drop tabs and
 * line breaks), and resolving it must stay on this origin.
 */
function sitePath(next: string): string | null {
  if (
    next.length > MAX_NEXT_LENGTH ||
    !next.startsWith('/') ||
    next.startsWith('//') ||
    next.includes('\\') ||
    hasControlCharacter(next)
  ) {
    return null;
  }
  let url: URL;
  try {
    url = new URL(next, PROBE_ORIGIN);
  } catch {
    return null;
  }
  if (url.origin !== PROBE_ORIGIN || /^\/(login|logout)(\/|$)/i.test(url.pathname)) {
    return null;
  }
  return `${url.pathname}${url.search}${url.hash}`;
}

/**
 * Where to go after logging in: `next` when it is a path on this site, else `/`. Anything that
 * could leave it (`//host`, `/\host`, a scheme, control characters) or loop back to the login
 * or logout page gives `/`. Resolving normalizes (`/./x` is `/x`), and a normalized path may
 * read differently from what was checked (`/.//host` becomes `//host`), so a result is only
 * kept when it is a fixed point: `safeNext(safeNext(x)) === safeNext(x)` for every `x`, and the
 * result is always a path of this origin.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') {
    return '/';
  }
  const resolved = sitePath(next);
  return resolved !== null && sitePath(resolved) === resolved ? resolved : '/';
}

/** The login page's URL that comes back to `next`. */
export function loginHref(next: string): string {
  const target = safeNext(next);
  return target === '/' ? '/login' : `/login?next=${encodeURIComponent(target)}`;
}

/** Whether the request reached the service over https (directly, or as its proxy says). */
function overHttps(req: Request): boolean {
  return req.secure || req.headers['x-forwarded-proto'] === 'https';
}

/**
 * The cookie of nbstage before login sessions, which held the token itself: removed whenever
 * this browser logs in or out, so that no copy of a token lingers in it.
 */
export const LEGACY_LOGIN_COOKIE = 'nbstage_token';

/** The `Set-Cookie` value of `name` holding `value` (empty with `maxAge` 0: removes it). */
function cookie(name: string, value: string, secure: boolean, maxAge: number): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
    `Max-Age=${maxAge}`,
  ].join('; ');
}

/** The `Set-Cookie` value removing the legacy cookie when the browser still sends it. */
function legacyRemoval(req: Request): string[] {
  return cookieValue(req.headers.cookie, LEGACY_LOGIN_COOKIE) === undefined
    ? []
    : [cookie(LEGACY_LOGIN_COOKIE, '', overHttps(req), 0)];
}

/** `Set-Cookie` values that remove the login cookie (and the legacy one). */
function clearedCookies(req: Request): string[] {
  return [cookie(LOGIN_COOKIE, '', overHttps(req), 0), ...legacyRemoval(req)];
}

/** The answer to a client that failed to authenticate too often: 429 with `Retry-After`. */
function tooManyFailures(res: Response, retryAfter: number, next: string, fragment: boolean): void {
  const message = `Too many failed attempts to authenticate from this address: try again in ${retryAfter} s.`;
  res.set('Retry-After', String(retryAfter));
  if (fragment) {
    res.status(429).type('text/plain').set('Cache-Control', 'no-store').send(`${message}\n`);
  } else {
    sendPage(res, 429, loginPage({ next, error: message }));
  }
}

/**
 * Middleware of the pages: a live login session in the cookie (or an `Authorization: Bearer`
 * token, for scripts) sets `res.locals.principal`; without one a page redirects (303) to the
 * login form, and a `fragment` (what the page's scripts fetch) answers 401, both removing a dead
 * session's cookie. A client that failed too often gets 429 (see `authenticator.ts`).
 */
export function requireLogin(auth: Authenticator, fragment = false): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const token = bearerToken(req.headers.authorization);
    const session = token === undefined ? loginSessionId(req) : undefined;
    const credential = credentialOf(token, session);
    const outcome: AuthOutcome =
      credential === undefined
        ? { ok: false, limited: false }
        : await auth.check(credential, auth.clientOf(req));
    if (outcome.ok) {
      res.locals.principal = outcome.principal;
      next();
      return;
    }
    if (outcome.limited) {
      tooManyFailures(res, outcome.retryAfter, safeNext(req.originalUrl), fragment);
      return;
    }
    if (session !== undefined) {
      res.set('Set-Cookie', clearedCookies(req));
    }
    if (fragment) {
      res.status(401).type('text/plain').set('Cache-Control', 'no-store').send('log in again\n');
    } else {
      res.redirect(303, loginHref(req.originalUrl));
    }
  };
}

/** `GET /login`: the form. */
export function showLogin(req: Request, res: Response): void {
  sendPage(res, 200, loginPage({ next: safeNext(req.query.next), error: null }));
}

/**
 * `POST /login` (form fields `token`, `next`): a valid token starts a login session, whose id the
 * cookie keeps (a session this browser had before ends), and the browser is sent on (303); a
 * wrong one gets the form again (401), and counts as a failed authentication of the client,
 * which past its budget gets 429; a post from another site 403.
 */
export function postLogin(auth: Authenticator): RequestHandler {
  return async (req: Request, res: Response): Promise<void> => {
    const body = (req.body ?? {}) as { token?: unknown; next?: unknown };
    const next = safeNext(body.next);
    if (!sameOrigin(req)) {
      sendPage(res, 403, loginPage({ next, error: 'Log in from this page.' }));
      return;
    }
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    const outcome: AuthOutcome =
      token === ''
        ? { ok: false, limited: false }
        : await auth.check({ kind: 'token', token }, auth.clientOf(req));
    if (!outcome.ok && outcome.limited) {
      tooManyFailures(res, outcome.retryAfter, next, false);
      return;
    }
    if (!outcome.ok) {
      sendPage(
        res,
        401,
        loginPage({ next, error: 'That token is unknown or revoked. Check it and try again.' }),
      );
      return;
    }
    const before = loginSessionId(req);
    if (before !== undefined) {
      auth.sessions.end(before);
    }
    const started = auth.sessions.start(outcome.principal);
    res
      .set('Set-Cookie', [
        cookie(LOGIN_COOKIE, started.id, overHttps(req), started.maxAgeSeconds),
        ...legacyRemoval(req),
      ])
      .redirect(303, next);
  };
}

/** `GET /logout`: a page with the logout button (logging out changes state, so it is a POST). */
export function showLogout(_req: Request, res: Response): void {
  sendPage(
    res,
    200,
    renderPage({
      title: 'Log out',
      principal: null,
      body:
        '<section class="panel narrow"><h1>Log out?</h1>' +
        '<form method="post" action="/logout"><button type="submit" class="primary">Log out</button></form></section>',
    }),
  );
}

/**
 * `POST /logout`: ends the cookie's login session on the server, removes the cookie and goes to
 * the login form; 403 from another site.
 */
export function postLogout(auth: Authenticator): RequestHandler {
  return (req: Request, res: Response): void => {
    if (!sameOrigin(req)) {
      res.status(403).type('text/plain').send("log out from this service's pages\n");
      return;
    }
    const session = loginSessionId(req);
    if (session !== undefined) {
      auth.sessions.end(session);
    }
    res.set('Set-Cookie', clearedCookies(req)).redirect(303, '/login');
  };
}
