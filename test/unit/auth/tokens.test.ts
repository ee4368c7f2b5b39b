/**
 * The token registries: tokens stored only as hashes, verify and revoke, the role order, the
 * bootstrap admin token, errors for a corrupted file, and changes made by another store instance
 * (as another process would) seen without a restart.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorruptedFileError, ValidationError } from '../../../pipelines/errors';
import { withFileLock } from '../../../server/auth/private-file';
import {
  BOOTSTRAP_ADMIN_ID,
  fileTokenStore,
  generateToken,
  hashToken,
  memoryTokenStore,
  roleAllows,
  tokenId,
  tokensFile,
} from '../../../server/auth/tokens';
import type { Role } from '../../../server/auth/tokens';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';

const ADMIN = 'bootstrap-admin-secret-0123456789';

afterAll(cleanupDirs);

function storeFile(): string {
  return tokensFile(path.join(tempDir(), 'home'));
}

function corrupt(file: string, contents: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof contents === 'string' ? contents : JSON.stringify(contents));
}

function validRecord(): Record<string, string> {
  const { token, id } = generateToken();
  return {
    id,
    name: 'ci',
    role: 'run',
    createdAt: new Date().toISOString(),
    hash: hashToken(token),
  };
}

describe('roleAllows', () => {
  it('orders admin above run above read', () => {
    const roles: Role[] = ['read', 'run', 'admin'];
    const table = roles.map((have) => roles.map((need) => roleAllows(have, need)));
    expect(table).toEqual([
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ]);
  });
});

describe('token format', () => {
  it('is nbs_ plus 32 random bytes in base64url, named by its first 6 bytes', () => {
    const { token, id } = generateToken();
    expect(token).toMatch(/^nbs_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(tokenId(token)).toBe(id);
    expect(generateToken().token).not.toBe(token);
  });

  it('has no id when malformed', () => {
    expect(tokenId('nbs_short')).toBeUndefined();
    expect(tokenId(`xyz_${'A'.repeat(43)}`)).toBeUndefined();
    expect(tokenId(`nbs_${'A'.repeat(42)}!`)).toBeUndefined();
  });

  it('hashes with sha256', () => {
    expect(hashToken('nbs_x')).toBe(createHash('sha256').update('nbs_x').digest('hex'));
  });
});

describe('fileTokenStore', () => {
  it('stores only the hash: the token is nowhere in the file, which is mode 0600', async () => {
    const file = storeFile();
    const store = fileTokenStore(file);
    const { token, record } = await store.create({ role: 'run', name: 'jenkins' });
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.slice(4));
    expect(text).toContain(hashToken(token));
    expect(record).toMatchObject({ name: 'jenkins', role: 'run', hash: hashToken(token) });
    expect(record.id).toBe(tokenId(token));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['tokens.json']);
    const listed = await store.list();
    expect(JSON.stringify(listed)).not.toContain(token);
  });

  it('verifies a token to its principal and refuses others', async () => {
    const store = fileTokenStore(storeFile());
    const { token, record } = await store.create({ role: 'read', name: 'dashboard' });
    expect(await store.verify(token)).toEqual({ id: record.id, name: 'dashboard', role: 'read' });
    const other = generateToken().token;
    expect(await store.verify(other)).toBeNull();
    expect(await store.verify('')).toBeNull();
    expect(await store.verify('Bearer x')).toBeNull();
    // Same id (first 6 bytes), different secret: found by id, refused by the hash.
    const bytes = Buffer.from(token.slice(4), 'base64url');
    bytes[31] ^= 0xff;
    const forged = `nbs_${bytes.toString('base64url')}`;
    expect(tokenId(forged)).toBe(record.id);
    expect(await store.verify(forged)).toBeNull();
  });

  it('revokes a token', async () => {
    const store = fileTokenStore(storeFile());
    const a = await store.create({ role: 'run', name: 'a' });
    const b = await store.create({ role: 'admin', name: 'b' });
    expect(await store.revoke(a.record.id)).toBe(true);
    expect(await store.verify(a.token)).toBeNull();
    expect(await store.verify(b.token)).toMatchObject({ role: 'admin' });
    expect((await store.list()).map((r) => r.id)).toEqual([b.record.id]);
    expect(await store.revoke(a.record.id)).toBe(false);
  });

  it('rejects a bad role or name', async () => {
    const store = fileTokenStore(storeFile());
    await expect(store.create({ role: 'root' as Role, name: 'x' })).rejects.toMatchObject({
      code: 'NBSTAGE_VALIDATION',
      field: 'role',
    });
    await expect(store.create({ role: 'read', name: ' ' })).rejects.toBeInstanceOf(ValidationError);
    await expect(store.create({ role: 'read', name: 'a\nb' })).rejects.toMatchObject({
      field: 'name',
    });
  });

  it('accepts the bootstrap admin token without storing it, in constant time', async () => {
    const file = storeFile();
    const store = fileTokenStore(file, { adminToken: ADMIN });
    expect(await store.verify(ADMIN)).toEqual({
      id: BOOTSTRAP_ADMIN_ID,
      name: 'NBSTAGE_ADMIN_TOKEN',
      role: 'admin',
    });
    expect(await store.verify(`${ADMIN}x`)).toBeNull();
    expect(await store.verify(ADMIN.slice(0, -1))).toBeNull();
    await store.create({ role: 'read', name: 'r' });
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain(hashToken(ADMIN));
    expect(await store.list()).toHaveLength(1);
    // Without the option the same token is nothing.
    expect(await fileTokenStore(file).verify(ADMIN)).toBeNull();
  });

  it('refuses a guessable bootstrap admin token, and treats an empty one as none', async () => {
    expect(() => fileTokenStore(storeFile(), { adminToken: 'admin' })).toThrow(ValidationError);
    const store = fileTokenStore(storeFile(), { adminToken: '' });
    expect(await store.verify('')).toBeNull();
  });

  it('reports a file that is not JSON, naming the file', async () => {
    const file = storeFile();
    corrupt(file, '{"version": 1, "tokens": [');
    const err = await fileTokenStore(file)
      .list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptedFileError);
    expect(err).toMatchObject({ code: 'NBSTAGE_FILE_CORRUPTED', file, field: '/', status: 500 });
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('not valid JSON');
  });

  it.each([
    ['a bad role', { role: 'root' }, '/tokens/0/role'],
    ['a hash that is not sha256 hex', { hash: 'plaintext-token' }, '/tokens/0/hash'],
    ['an unknown field', { token: 'nbs_leak' }, '/tokens/0/token'],
  ])('reports %s, naming the field', async (_what, change, field) => {
    const file = storeFile();
    corrupt(file, { version: 1, tokens: [{ ...validRecord(), ...change }] });
    const err = await fileTokenStore(file)
      .verify(generateToken().token)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NBSTAGE_FILE_CORRUPTED', field });
    expect((err as Error).message).toContain(`${file}: ${field}`);
  });

  it('reports a missing field and a repeated id', async () => {
    const file = storeFile();
    const { hash: _hash, ...noHash } = validRecord();
    corrupt(file, { version: 1, tokens: [noHash] });
    await expect(fileTokenStore(file).list()).rejects.toMatchObject({ field: '/tokens/0/hash' });
    const record = validRecord();
    corrupt(file, { version: 1, tokens: [record, { ...record, name: 'twin' }] });
    await expect(fileTokenStore(file).list()).rejects.toMatchObject({ field: '/tokens/1/id' });
    corrupt(file, { tokens: [] });
    await expect(fileTokenStore(file).list()).rejects.toMatchObject({ field: '/version' });
  });

  it('sees tokens created and revoked by another process without a restart', async () => {
    const file = storeFile();
    const server = fileTokenStore(file, { adminToken: ADMIN });
    const cli = fileTokenStore(file);
    expect(await server.list()).toEqual([]);
    const { token, record } = await cli.create({ role: 'run', name: 'from the cli' });
    expect(await server.verify(token)).toMatchObject({ id: record.id, role: 'run' });
    expect(await fileTokenStore(file).revoke(record.id)).toBe(true);
    expect(await server.verify(token)).toBeNull();
  });

  it('loses no token when two processes create at the same time', async () => {
    const file = storeFile();
    const one = fileTokenStore(file);
    const two = fileTokenStore(file);
    const made = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? one : two).create({ role: 'read', name: `t${i}` }),
      ),
    );
    const ids = (await fileTokenStore(file).list()).map((r) => r.id).sort();
    expect(ids).toEqual(made.map((m) => m.record.id).sort());
    for (const { token } of made) {
      expect(await one.verify(token)).not.toBeNull();
    }
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('records when a token was last used', async () => {
    const file = storeFile();
    const store = fileTokenStore(file, { lastUsedIntervalMs: 0 });
    const { token, record } = await store.create({ role: 'read', name: 'r' });
    expect(record.lastUsedAt).toBeUndefined();
    const before = Date.now();
    await store.verify(token);
    const [listed] = await fileTokenStore(file).list();
    expect(Date.parse(listed.lastUsedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
  });

  it('breaks a lock left by a dead process', async () => {
    const file = storeFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.lock`, '999999\n');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(`${file}.lock`, old, old);
    const { token } = await fileTokenStore(file).create({ role: 'read', name: 'r' });
    expect(await fileTokenStore(file).verify(token)).not.toBeNull();
  });

  it('gives up on a lock that stays held', async () => {
    const file = storeFile();
    await withFileLock(file, async () => {
      await expect(withFileLock(file, async () => 1, { timeoutMs: 100 })).rejects.toMatchObject({
        code: 'NBSTAGE_INTERNAL',
      });
    });
    expect(await withFileLock(file, async () => 2)).toBe(2);
  });
});

describe('memoryTokenStore', () => {
  it('creates, verifies and revokes like the file store', async () => {
    const store = memoryTokenStore({ adminToken: ADMIN });
    const { token, record } = await store.create({ role: 'run', name: 'm' });
    expect(await store.verify(token)).toEqual({ id: record.id, name: 'm', role: 'run' });
    expect(await store.verify(ADMIN)).toMatchObject({ role: 'admin' });
    expect(await store.revoke(record.id)).toBe(true);
    expect(await store.verify(token)).toBeNull();
  });
});
