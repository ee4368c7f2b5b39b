/**
 * API tokens of the service: how they look (`nbs_` + 32 random bytes, base64url), how they are
 * hashed and checked, and the token registries — `fileTokenStore` on `<home>/tokens.json` (shared
 * by `nbstage serve` and `nbstage token ...` in other processes) and `memoryTokenStore` for tests.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { ValidationError } from '../../pipelines/errors';
import { withFileLock } from './private-file';
import { readTokenFile, tokenFileStamp, writeTokenFile } from './token-file';
import type { FileStamp } from './token-file';
import { isRole } from './types';
import type { Principal, Role, TokenRecord, TokenStore } from './types';

export { ROLES, isRole, roleAllows } from './types';
export type { Principal, Role, TokenRecord, TokenStore } from './types';

/** Every token starts with this, so that secret scanners and people can tell what it is. */
export const TOKEN_PREFIX = 'nbs_';
/** The principal id of the bootstrap admin token (`NBSTAGE_ADMIN_TOKEN`). */
export const BOOTSTRAP_ADMIN_ID = 'admin-bootstrap';
/** Who the bootstrap admin token acts as. */
const BOOTSTRAP_ADMIN: Readonly<Principal> = {
  id: BOOTSTRAP_ADMIN_ID,
  name: 'NBSTAGE_ADMIN_TOKEN',
  role: 'admin',
};
/** The shortest `NBSTAGE_ADMIN_TOKEN` accepted: it is hashed fast, so it must not be guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** The token file in nbstage's home. */
export function tokensFile(home: string): string {
  return path.join(home, 'tokens.json');
}

const TOKEN_BYTES = 32;
/** The first bytes of the random part name the token: 48 bits, 12 hex characters. */
const ID_BYTES = 6;
const TOKEN_PATTERN = /^nbs_[A-Za-z0-9_-]{43}$/;
const MAX_NAME_LENGTH = 200;

/**
 * The hash a token is stored under: sha256, as lowercase hex.
 *
 * A fast unsalted hash is right here, unlike for passwords. Slow salted hashes (bcrypt, scrypt)
 * exist because passwords are guessable; our tokens are 256 bits from the OS's CSPRNG (208 of
 * them secret once the 48-bit id is public), so whoever reads the file would need ~2^207 sha256
 * evaluations per token, and precomputed tables cannot cover that space. A fast hash also keeps
 * the check on every request cheap.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The id a well-formed token is stored under, or `undefined` for a malformed one. */
export function tokenId(token: string): string | undefined {
  if (!TOKEN_PATTERN.test(token)) {
    return undefined;
  }
  const bytes = Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url');
  return bytes.length === TOKEN_BYTES ? bytes.subarray(0, ID_BYTES).toString('hex') : undefined;
}

/** A new token, `nbs_` + 32 random bytes in base64url, and its id. */
export function generateToken(): { token: string; id: string } {
  const bytes = randomBytes(TOKEN_BYTES);
  return {
    token: TOKEN_PREFIX + bytes.toString('base64url'),
    id: bytes.subarray(0, ID_BYTES).toString('hex'),
  };
}

/** Constant-time comparison of two hex digests of the same algorithm. */
function sameDigest(a: Buffer, hexB: string): boolean {
  const b = Buffer.from(hexB, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkCreateOptions(options: { role: Role; name: string }): void {
  if (!isRole(options.role)) {
    throw new ValidationError(
      'role',
      `role must be one of read, run, admin, got "${String(options.role)}"`,
    );
  }
  const name = options.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME_LENGTH) {
    throw new ValidationError('name', `name must be 1 to ${MAX_NAME_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new ValidationError('name', 'name must not contain control characters');
  }
}

/** Where a {@link RecordTokenStore} keeps its records. */
interface RecordBackend {
  /** The records now (reloaded when they changed underneath). */
  current(): Promise<TokenRecord[]>;
  /** Applies `change` to the freshest records and saves them when it says so. */
  update<T>(change: (records: TokenRecord[]) => { result: T; changed: boolean }): Promise<T>;
}

/** Options shared by the token stores. */
export interface TokenStoreOptions {
  /**
   * A token accepted as `admin` without being stored (`NBSTAGE_ADMIN_TOKEN`, the bootstrap).
   * Empty means none. At least {@link MIN_ADMIN_TOKEN_LENGTH} characters.
   */
  adminToken?: string;
  /** `lastUsedAt` is saved at most this often per token (default 60 000 ms). */
  lastUsedIntervalMs?: number;
}

/** The token logic, independent of where the records live. */
class RecordTokenStore implements TokenStore {
  private readonly adminHash: Buffer | undefined;
  private readonly lastUsedIntervalMs: number;

  constructor(
    private readonly backend: RecordBackend,
    options: TokenStoreOptions,
  ) {
    const admin = options.adminToken;
    if (admin !== undefined && admin !== '') {
      if (admin.length < MIN_ADMIN_TOKEN_LENGTH) {
        throw new ValidationError(
          'NBSTAGE_ADMIN_TOKEN',
          `NBSTAGE_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters ` +
            '(make one with `openssl rand -base64 32`)',
        );
      }
      // Kept as a hash, so the comparison below is between equal-length digests.
      this.adminHash = createHash('sha256').update(admin, 'utf8').digest();
    }
    this.lastUsedIntervalMs = options.lastUsedIntervalMs ?? 60_000;
  }

  async create(options: {
    role: Role;
    name: string;
  }): Promise<{ token: string; record: TokenRecord }> {
    checkCreateOptions(options);
    return this.backend.update((records) => {
      let made = generateToken();
      while (records.some((r) => r.id === made.id)) {
        made = generateToken();
      }
      const record: TokenRecord = {
        id: made.id,
        name: options.name,
        role: options.role,
        createdAt: new Date().toISOString(),
        hash: hashToken(made.token),
      };
      records.push(record);
      return { result: { token: made.token, record: { ...record } }, changed: true };
    });
  }

  async verify(token: string): Promise<Principal | null> {
    if (typeof token !== 'string' || token === '') {
      return null;
    }
    const digest = createHash('sha256').update(token, 'utf8').digest();
    if (this.adminHash !== undefined && timingSafeEqual(digest, this.adminHash)) {
      return { ...BOOTSTRAP_ADMIN };
    }
    const id = tokenId(token);
    if (id === undefined) {
      return null;
    }
    const record = (await this.backend.current()).find((r) => r.id === id);
    if (record === undefined || !sameDigest(digest, record.hash)) {
      return null;
    }
    await this.touch(record);
    return { id: record.id, name: record.name, role: record.role };
  }

  async principal(id: string): Promise<Principal | null> {
    if (id === BOOTSTRAP_ADMIN_ID) {
      return this.adminHash === undefined ? null : { ...BOOTSTRAP_ADMIN };
    }
    const record = (await this.backend.current()).find((r) => r.id === id);
    if (record === undefined) {
      return null;
    }
    await this.touch(record);
    return { id: record.id, name: record.name, role: record.role };
  }

  async list(): Promise<TokenRecord[]> {
    return (await this.backend.current()).map((r) => ({ ...r }));
  }

  async revoke(id: string): Promise<boolean> {
    return this.backend.update((records) => {
      const index = records.findIndex((r) => r.id === id);
      if (index < 0) {
        return { result: false, changed: false };
      }
      records.splice(index, 1);
      return { result: true, changed: true };
    });
  }

  /**
   * Saves `lastUsedAt`, at most once per `lastUsedIntervalMs` per token. It is advisory: when the
   * home is read-only the token still works, so a failed save is ignored.
   */
  private async touch(record: TokenRecord): Promise<void> {
    const now = Date.now();
    const last = record.lastUsedAt === undefined ? Number.NaN : Date.parse(record.lastUsedAt);
    if (!Number.isNaN(last) && now - last < this.lastUsedIntervalMs) {
      return;
    }
    const stamp = new Date(now).toISOString();
    record.lastUsedAt = stamp;
    await this.backend
      .update((records) => {
        const fresh = records.find((r) => r.id === record.id);
        if (fresh === undefined) {
          return { result: undefined, changed: false };
        }
        fresh.lastUsedAt = stamp;
        return { result: undefined, changed: true };
      })
      .catch(() => undefined);
  }
}

/** Records in `tokens.json`, reloaded when another process changed the file. */
class FileBackend implements RecordBackend {
  private records: TokenRecord[] = [];
  private stamp: FileStamp | undefined;
  /** Serializes this process's writers before they contend for the lock file. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  async current(): Promise<TokenRecord[]> {
    const stamp = await tokenFileStamp(this.file);
    if (stamp !== this.stamp) {
      const loaded = await readTokenFile(this.file);
      this.records = loaded.data.tokens;
      this.stamp = loaded.stamp;
    }
    return this.records;
  }

  update<T>(change: (records: TokenRecord[]) => { result: T; changed: boolean }): Promise<T> {
    const run = (): Promise<T> =>
      withFileLock(this.file, async () => {
        const { data, stamp } = await readTokenFile(this.file);
        const { result, changed } = change(data.tokens);
        this.records = data.tokens;
        this.stamp = changed ? await writeTokenFile(this.file, data) : stamp;
        return result;
      });
    const next = this.writes.then(run, run);
    this.writes = next.catch(() => undefined);
    return next;
  }
}

/** Records in memory. */
class MemoryBackend implements RecordBackend {
  private readonly records: TokenRecord[] = [];

  async current(): Promise<TokenRecord[]> {
    return this.records;
  }

  async update<T>(change: (records: TokenRecord[]) => { result: T; changed: boolean }): Promise<T> {
    return change(this.records).result;
  }
}

/**
 * The token registry of nbstage's home: records in `file` (`<home>/tokens.json`), written
 * atomically with mode 0600 under a lock file, validated on every load, reloaded whenever the
 * file changed on disk, so a token made by `nbstage token create` in another process works at
 * once. `options.adminToken` (`NBSTAGE_ADMIN_TOKEN`) is accepted as admin and never stored.
 *
 * @throws ValidationError when `options.adminToken` is shorter than 16 characters
 */
export function fileTokenStore(file: string, options: TokenStoreOptions = {}): TokenStore {
  return new RecordTokenStore(new FileBackend(file), options);
}

/** A token registry in memory, for tests and embedded uses that need no persistence. */
export function memoryTokenStore(options: TokenStoreOptions = {}): TokenStore {
  return new RecordTokenStore(new MemoryBackend(), options);
}
