/**
 * Authentication on the service's edges: the express middleware that requires a role of every
 * request (`Authorization: Bearer <token>`), and plain functions for the websocket upgrade, where
 * browsers, which cannot set headers there, may pass the token as a `token` query parameter.
 * Tokens are never logged, echoed or put in an error message.
 */
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, ForbiddenError } from '../../pipelines/errors';
import { roleAllows } from './types';
import type { Principal, Role, TokenStore } from './types';

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
 * must send the header ({@link requireRole} reads nothing else), since URLs end up in logs.
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
 * The principal of an `Authorization` header value, or `null` when it is missing, not `Bearer`,
 * or the token is unknown or revoked.
 */
export async function authenticateToken(
  store: TokenStore,
  header: string | undefined,
): Promise<Principal | null> {
  const token = bearerToken(header);
  return token === undefined ? null : store.verify(token);
}

/**
 * The principal of a websocket upgrade request (header or `token` query parameter, see
 * {@link tokenFromRequest}), or `null`.
 */
export async function authenticateRequest(
  store: TokenStore,
  req: IncomingMessage,
): Promise<Principal | null> {
  const token = tokenFromRequest(req);
  return token === undefined ? null : store.verify(token);
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
 * Express middleware that lets a request through when its `Authorization: Bearer <token>` names
 * a token whose role includes `need`, and sets `res.locals.principal`. A missing or invalid token
 * gets 401 `NBSTAGE_UNAUTHORIZED` with `WWW-Authenticate: Bearer`; a weaker role gets 403
 * `NBSTAGE_FORBIDDEN` naming the role needed. When an earlier `requireRole` already set the
 * principal (an app-wide `read`, then `run` on one route), only the role is checked again.
 * Errors of the store itself (a corrupted `tokens.json`) go to `next(err)`.
 */
export function requireRole(store: TokenStore, need: Role): RequestHandler {
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
    const token = bearerToken(header);
    if (token === undefined) {
      unauthorized(
        res,
        header === undefined
          ? 'this needs an "Authorization: Bearer <token>" header'
          : 'the Authorization header must be "Bearer <token>"',
        header !== undefined,
      );
      return;
    }
    store.verify(token).then(
      (principal) => {
        if (principal === null) {
          unauthorized(res, 'the token is unknown or revoked', true);
        } else if (!roleAllows(principal.role, need)) {
          res.locals.principal = principal;
          forbidden(res, principal, need);
        } else {
          res.locals.principal = principal;
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
