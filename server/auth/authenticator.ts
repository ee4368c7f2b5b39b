/**
 * Who a credential stands for, with the failed-authentication limit on the way: a token (from the
 * `Authorization` header, a websocket's query or the login form) or a login session's id (the login
 * cookie). Every failed check counts against its client (see `client-address.ts`); a client past
 * its budget is refused with the seconds to wait before its credential is even looked at, so
 * guessing gets no answer either way. The HTTP middleware, the login form and the websocket upgrade
 * all check here, so they share one budget per client.
 */
import type { IncomingMessage } from 'node:http';
import { requestClientKey, type TrustProxy } from './client-address';
import { DEFAULT_AUTH_LIMITS, type AuthLimits } from './limits';
import { TokenBuckets } from './rate-limit';
import { memorySessionStore, type SessionStore } from './sessions';
import type { Principal, TokenStore } from './types';

/** What a request presented. */
export type Credential = { kind: 'token'; token: string } | { kind: 'session'; id: string };

/** What a request presents: its bearer token, else its login session; undefined for neither. */
export function credentialOf(
  token: string | undefined,
  session: string | undefined,
): Credential | undefined {
  if (token !== undefined) {
    return { kind: 'token', token };
  }
  return session === undefined ? undefined : { kind: 'session', id: session };
}

/** The answer to a credential. */
export type AuthOutcome =
  | { ok: true; principal: Principal }
  /** Unknown, malformed, revoked or expired. */
  | { ok: false; limited: false }
  /** Not checked: the client failed too often; it may try again in `retryAfter` seconds. */
  | { ok: false; limited: true; retryAfter: number };

/** Options of {@link Authenticator}. */
export interface AuthenticatorOptions {
  tokens: TokenStore;
  /** Default: sessions in memory, with the limits' lifetime and count. */
  sessions?: SessionStore;
  /** Default: {@link DEFAULT_AUTH_LIMITS}. */
  limits?: Partial<AuthLimits>;
  /** Milliseconds clock (default `Date.now`), for tests. */
  now?: () => number;
  /** Proxies that may say who the client is (`NBSTAGE_TRUST_PROXY`); default none. */
  trustProxy?: TrustProxy | null;
}

/** Checks credentials against the token store and the login sessions, per client. */
export class Authenticator {
  /** The token registry. */
  readonly tokens: TokenStore;
  /** The login sessions. */
  readonly sessions: SessionStore;
  /** The limits in force. */
  readonly limits: Readonly<AuthLimits>;
  /** The proxies trusted to forward the client's address, or null. */
  readonly trustProxy: TrustProxy | null;
  private readonly failures: TokenBuckets;

  constructor(options: AuthenticatorOptions) {
    this.tokens = options.tokens;
    this.trustProxy = options.trustProxy ?? null;
    this.limits = { ...DEFAULT_AUTH_LIMITS, ...options.limits };
    this.sessions =
      options.sessions ??
      memorySessionStore(options.tokens, {
        lifetimeSeconds: this.limits.sessionSeconds,
        maxSessions: this.limits.maxSessions,
        now: options.now,
      });
    this.failures = new TokenBuckets({
      capacity: this.limits.authFailuresPerMinute,
      refillPerSecond: this.limits.authFailuresPerMinute / 60,
      now: options.now,
    });
  }

  /** The client a request counts against (its address, as the trusted proxies forward it). */
  clientOf(req: IncomingMessage): string {
    return requestClientKey(req, this.trustProxy);
  }

  /**
   * Checks `credential` presented by `client` (a client key). Errors of the stores themselves
   * (a corrupted `tokens.json`) reject and count as nothing.
   */
  async check(credential: Credential, client: string): Promise<AuthOutcome> {
    const retryAfter = this.failures.retryAfter(client);
    if (retryAfter > 0) {
      return { ok: false, limited: true, retryAfter };
    }
    const principal =
      credential.kind === 'token'
        ? await this.tokens.verify(credential.token)
        : await this.sessions.principal(credential.id);
    if (principal === null) {
      this.failures.spend(client);
      return { ok: false, limited: false };
    }
    return { ok: true, principal };
  }
}
