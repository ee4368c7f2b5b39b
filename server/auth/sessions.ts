/**
 * Login sessions of the web page: logging in with a token starts one, and the login cookie holds
 * its id (32 random bytes), never the token. A session names its token by id and asks the token
 * store on every use, so it ends with its token (revoked by `nbstage token revoke` in any
 * process), on logout, and after its lifetime. Sessions live in the service's memory, kept by
 * the sha256 of their id: a restart logs everyone out.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal, TokenStore } from './types';

/** A session just started. */
export interface StartedSession {
  /** The cookie's value; known to the browser alone (the store keeps its hash). */
  id: string;
  /** Seconds it lasts (the cookie's `Max-Age`). */
  maxAgeSeconds: number;
}

/** Where login sessions are kept. */
export interface SessionStore {
  /** Starts a session acting as `principal` (whose `id` is its token's id). */
  start(principal: Principal): StartedSession;
  /**
   * The principal of a live session, or `null` when the id is unknown, malformed, ended or
   * expired, or its token was revoked (the session then ends too).
   */
  principal(id: string): Promise<Principal | null>;
  /** Ends a session; `false` when there was no such live session. */
  end(id: string): boolean;
  /** Live sessions now (expired ones not counted). */
  size(): number;
}

/** Options of {@link memorySessionStore}. */
export interface SessionStoreOptions {
  /** Seconds a session lasts from its start. */
  lifetimeSeconds: number;
  /** Sessions kept at most; starting one more ends the oldest. */
  maxSessions: number;
  /** Milliseconds clock (default `Date.now`), for tests. */
  now?: () => number;
}

interface Session {
  tokenId: string;
  expiresMs: number;
}

const ID_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function digest(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

/** Sessions in this process's memory, checked against `tokens` on every use. */
export function memorySessionStore(tokens: TokenStore, options: SessionStoreOptions): SessionStore {
  const now = options.now ?? Date.now;
  const lifetimeMs = options.lifetimeSeconds * 1000;
  // Insertion order is start order: the first entry is the oldest session.
  const sessions = new Map<string, Session>();

  const sweep = (at: number): void => {
    for (const [key, session] of sessions) {
      if (session.expiresMs <= at) {
        sessions.delete(key);
      }
    }
  };

  return {
    start(principal: Principal): StartedSession {
      const at = now();
      if (sessions.size >= options.maxSessions) {
        sweep(at);
      }
      for (const key of sessions.keys()) {
        if (sessions.size < options.maxSessions) {
          break;
        }
        sessions.delete(key);
      }
      const id = randomBytes(ID_BYTES).toString('base64url');
      sessions.set(digest(id), { tokenId: principal.id, expiresMs: at + lifetimeMs });
      return { id, maxAgeSeconds: options.lifetimeSeconds };
    },

    async principal(id: string): Promise<Principal | null> {
      if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
        return null;
      }
      const key = digest(id);
      const session = sessions.get(key);
      if (session === undefined) {
        return null;
      }
      if (session.expiresMs <= now()) {
        sessions.delete(key);
        return null;
      }
      const principal = await tokens.principal(session.tokenId);
      if (principal === null) {
        sessions.delete(key);
      }
      return principal;
    },

    end(id: string): boolean {
      if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
        return false;
      }
      const key = digest(id);
      const session = sessions.get(key);
      sessions.delete(key);
      return session !== undefined && session.expiresMs > now();
    },

    size(): number {
      sweep(now());
      return sessions.size;
    },
  };
}
