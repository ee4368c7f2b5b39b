/**
 * The vocabulary of the service's access control: roles and their order, the principal a request
 * acts as, token records and the `TokenStore` interface every token registry implements.
 */

/** A token's role. Each role includes the ones before it: `admin` ⊇ `run` ⊇ `read`. */
export type Role = 'read' | 'run' | 'admin';

/** Every role, weakest first. */
export const ROLES: readonly Role[] = ['read', 'run', 'admin'];

/** Who a request acts as: a token's id, its name and its role. Never the token itself. */
export interface Principal {
  /** The token's id (12 hex characters), or `admin-bootstrap` for `NBSTAGE_ADMIN_TOKEN`. */
  id: string;
  /** The name given at creation, for people reading lists and audit logs. */
  name: string;
  /** What the token may do. */
  role: Role;
}

/** A stored token: everything but the token, which only its creator ever sees. */
export interface TokenRecord {
  /** Stable id, used to list, revoke and audit (the token's first 6 random bytes, as hex). */
  id: string;
  /** A name for people. */
  name: string;
  /** What the token may do. */
  role: Role;
  /** ISO 8601 time of creation. */
  createdAt: string;
  /** ISO 8601 time of the last successful use, to about a minute; absent when never used. */
  lastUsedAt?: string;
  /** sha256 of the token, lowercase hex. */
  hash: string;
}

/** A registry of API tokens. Implementations store hashes only, never tokens. */
export interface TokenStore {
  /**
   * Makes a token. The token is in the answer and nowhere else: show it once, then forget it.
   */
  create(options: { role: Role; name: string }): Promise<{ token: string; record: TokenRecord }>;
  /** The principal a token stands for, or `null` when it is unknown, revoked or malformed. */
  verify(token: string): Promise<Principal | null>;
  /**
   * The principal of the token with id `id` while it is valid (stored, or the bootstrap admin
   * token when one is configured), else `null`. What a login session checks on every use.
   */
  principal(id: string): Promise<Principal | null>;
  /** Every stored token's record (hashes, never tokens), oldest first. */
  list(): Promise<TokenRecord[]>;
  /** Removes a token; `false` when there was none with that id. */
  revoke(id: string): Promise<boolean>;
}

const RANK: Readonly<Record<Role, number>> = { read: 0, run: 1, admin: 2 };

/** Whether a principal with role `have` may do what needs role `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** Whether a string names a role. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
