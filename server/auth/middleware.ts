/**
 * Authentication on the service's edges: the express middleware that requires a role of every
 * request (`Authorization: Bearer <token>`, or the web page's login cookie, which holds a login
 * session's id), and plain functions for the websocket upgrade, where browsers, which cannot set
 * headers there, may pass the token as a `token` query parameter or send the cookie. Every check
 * goes through the {@link Authenticator}, which refuses a client that failed too often (429 with
 * `Retry-After`). A request that a cookie alone authenticates is one a browser may have been
 * tricked into sending: on unsafe methods it must also carry {@link CSRF_HEADER} (which no
 * cross-origin page can set without a CORS preflight the service never grants) and come from this
 * origin; a websocket joined by cookie must come from this origin. Tokens are never logged, echoed
 * or put in an error message.
 */
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, ForbiddenError } from '../../pipelines/errors';
import {
  credentialOf,
  type AuthOutcome,
  type Authenticator,
  type Credential,
} from './authenticator';
import { sendRateLimited } from './rate-limit';
import { roleAllows } from './types';
import type { Principal, Role } from './types';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- express types are augmented this way
  namespace Express {
    interface Locals {
      /** Who the request acts as, set by {@link requireRole}. */
      principal?: Principal;
    }
  }
}

/** The realm named in `WWW-Authenticate`. */
const REALM = 'nbstage';
const BEARER = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i;

/**
 * Name of the web page's login cookie (HttpOnly, SameSite=Strict), which holds the id of a login
 * session (see `sessions.ts`), never a token.
 */
export const LOGIN_COOKIE = 'nbstage_session';

/**
 * The header the web page sends with every unsafe request it authenticates by cookie. Its value
 * is not checked: only a same-origin script (or a non-browser client) can set a custom header.
 */
export const CSRF_HEADER = 'x-nbstage-request';

/** Methods that change nothing, which need no CSRF check (RFC 9110 safe methods). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The value of one cookie of a `Cookie` header, or `undefined` when it is absent or empty.
 * Values are returned as sent; a pair without `=` is skipped.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      const value = pair.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/** The login session id the request's cookie holds, or `undefined`. */
export function loginSessionId(req: IncomingMessage): string | undefined {
  return cookieValue(req.headers.cookie, LOGIN_COOKIE);
}

/**
 * Whether a browser request comes from a page of this service: its `Origin` (when the browser
 * sent one) names this host, and its `Sec-Fetch-Site` (when sent) is `same-origin`. With
 * `originRequired`, a request without `Origin` does not pass (browsers always send it on
 * websocket handshakes and on cross-origin or unsafe fetches).
 */
export function sameOrigin(req: IncomingMessage, originRequired = false): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') {
    return false;
  }
  const origin = req.headers.origin;
  if (origin === undefined) {
    return !originRequired;
  }
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Why a request authenticated by the login cookie alone is refused as a possible cross-site
 * request forgery, or `null` when it may go on: safe methods always may; unsafe ones need
 * {@link CSRF_HEADER} and a same-origin `Origin`/`Sec-Fetch-Site` (see {@link sameOrigin}).
 */
export function csrfProblem(req: IncomingMessage): string | null {
  if (SAFE_METHODS.has((req.method ?? 'GET').toUpperCase())) {
    return null;
  }
  if (req.headers[CSRF_HEADER] === undefined) {
    return `a ${req.method ?? ''} request authenticated by the login cookie must send the ${CSRF_HEADER} header (or use "Authorization: Bearer <token>")`;
  }
  if (!sameOrigin(req)) {
    return 'a request authenticated by the login cookie must come from a page of this service';
  }
  return null;
}

/**
 * The token of an `Authorization: Bearer <token>` header value (the scheme is case-insensitive,
 * RFC 7235), or `undefined` when there is none or it uses another scheme.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  const match = BEARER.exec(header);
  return match === null ? undefined : match[1];
}

/**
 * The token of a request: from `Authorization: Bearer`, else from the `token` query parameter
 * (for browsers opening a websocket). Use it on the websocket upgrade only; plain HTTP requests
 * must send the header or the login cookie ({@link requireRole}), since URLs end up in logs.
 */
export function tokenFromRequest(req: IncomingMessage): string | undefined {
  const fromHeader = bearerToken(req.headers.authorization);
  if (fromHeader !== undefined) {
    return fromHeader;
  }
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  return query === null || query === '' ? undefined : query;
}

/** A URL with the value of its `token` query parameter replaced by `****`, for logging. */
export function redactTokenQuery(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1****');
}

/**
 * What a websocket upgrade request presents: the token of its header or `token` query parameter
 * (see {@link tokenFromRequest}); else, from a same-origin page only, its login session.
 */
export function upgradeCredential(req: IncomingMessage): Credential | undefined {
  const token = tokenFromRequest(req);
  if (token !== undefined) {
    return { kind: 'token', token };
  }
  if (req.headers.authorization !== undefined) {
    return undefined;
  }
  // A cookie rides along with any page's websocket to this host: only this origin's count.
  const id = sameOrigin(req, true) ? loginSessionId(req) : undefined;
  return id === undefined ? undefined : { kind: 'session', id };
}

/**
 * Checks the credential of a websocket upgrade request (see {@link upgradeCredential}) for the
 * client that sent it; `null` when it presents none.
 */
export async function authenticateRequest(
  auth: Authenticator,
  req: IncomingMessage,
): Promise<AuthOutcome | null> {
  const credential = upgradeCredential(req);
  return credential === undefined ? null : auth.check(credential, auth.clientOf(req));
}

function unauthorized(res: Response, message: string, invalidToken: boolean): void {
  const challenge = invalidToken
    ? `Bearer realm="${REALM}", error="invalid_token"`
    : `Bearer realm="${REALM}"`;
  res.status(401).set('WWW-Authenticate', challenge).json(new AuthError(message).toJSON());
}

function forbidden(res: Response, principal: Principal, need: Role): void {
  const error = new ForbiddenError(
    need,
    `this needs a token with role "${need}"; token ${principal.id} ("${principal.name}") has ` +
      `role "${principal.role}"`,
  );
  res
    .status(403)
    .set('WWW-Authenticate', `Bearer realm="${REALM}", error="insufficient_scope"`)
    .json(error.toJSON());
}

/**
 * Express middleware that lets a request through when its `Authorization: Bearer <token>` (or,
 * without that header, the login cookie's session) stands for a principal whose role includes
 * `need`, and sets `res.locals.principal`. A missing or invalid credential gets 401
 * `NBSTAGE_UNAUTHORIZED` with `WWW-Authenticate: Bearer`; a client that failed too often gets 429
 * `NBSTAGE_RATE_LIMITED` with `Retry-After`, its credential unchecked; a weaker role gets 403
 * `NBSTAGE_FORBIDDEN` naming the role needed; an unsafe request authenticated by cookie without
 * the CSRF header or from another origin gets 403 `NBSTAGE_FORBIDDEN` (see {@link csrfProblem}).
 * When an earlier `requireRole` already set the principal (an app-wide `read`, then `run` on one
 * route), only the role is checked again. Errors of the stores themselves (a corrupted
 * `tokens.json`) go to `next(err)`.
 */
export function requireRole(auth: Authenticator, need: Role): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const known = res.locals.principal;
    if (known !== undefined) {
      if (roleAllows(known.role, need)) {
        next();
      } else {
        forbidden(res, known, need);
      }
      return;
    }
    const header = req.headers.authorization;
    const session = header === undefined ? loginSessionId(req) : undefined;
    const token = bearerToken(header);
    if (session !== undefined) {
      const problem = csrfProblem(req);
      if (problem !== null) {
        res.status(403).json(new ForbiddenError(need, problem).toJSON());
        return;
      }
    }
    const credential = credentialOf(token, session);
    if (credential === undefined) {
      unauthorized(
        res,
        header === undefined
          ? 'this needs an "Authorization: Bearer <token>" header'
          : 'the Authorization header must be "Bearer <token>"',
        header !== undefined,
      );
      return;
    }
    auth.check(credential, auth.clientOf(req)).then(
      (outcome) => {
        if (!outcome.ok) {
          if (outcome.limited) {
            sendRateLimited(res, outcome.retryAfter);
          } else {
            unauthorized(
              res,
              credential.kind === 'token'
                ? 'the token is unknown or revoked'
                : 'the login session is unknown, expired or ended: log in again',
              true,
            );
          }
        } else if (!roleAllows(outcome.principal.role, need)) {
          res.locals.principal = outcome.principal;
          forbidden(res, outcome.principal, need);
        } else {
          res.locals.principal = outcome.principal;
          next();
        }
      },
      (err: unknown) => next(err),
    );
  };
}

/** The principal {@link requireRole} set on a response, or `undefined` before it ran. */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal;
}
