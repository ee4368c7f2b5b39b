/**
 * Login sessions on a memory token store with an injected clock: a session stands for its
 * token's principal until it is ended (logout), its lifetime passes, or its token is revoked;
 * the oldest ends first when there are too many; ids are 256 random bits and anything else is
 * no session. The token store is asked on every use, never given a token.
 */
import { memorySessionStore } from '../../../server/auth/sessions';
import { BOOTSTRAP_ADMIN_ID, memoryTokenStore } from '../../../server/auth/tokens';
import type { Principal, TokenStore } from '../../../server/auth/types';

const ADMIN = 'test-bootstrap-admin-0123456789';

describe('memorySessionStore', () => {
  let now: number;
  let tokens: TokenStore;
  let reader: Principal;

  beforeEach(async () => {
    now = 1_000_000;
    tokens = memoryTokenStore({ adminToken: ADMIN });
    const made = await tokens.create({ role: 'read', name: 'test-reader' });
    reader = { id: made.record.id, name: 'test-reader', role: 'read' };
  });

  const store = (lifetimeSeconds = 60, maxSessions = 100): ReturnType<typeof memorySessionStore> =>
    memorySessionStore(tokens, { lifetimeSeconds, maxSessions, now: () => now });

  it('stands for its token until its lifetime is over', async () => {
    const sessions = store(60);
    const { id, maxAgeSeconds } = sessions.start(reader);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(maxAgeSeconds).toBe(60);
    expect(await sessions.principal(id)).toEqual(reader);
    now += 59_999;
    expect(await sessions.principal(id)).toEqual(reader);
    now += 1;
    expect(await sessions.principal(id)).toBeNull();
    expect(sessions.size()).toBe(0);
  });

  it('ends on logout, once', async () => {
    const sessions = store();
    const a = sessions.start(reader);
    const b = sessions.start(reader);
    expect(sessions.end(a.id)).toBe(true);
    expect(sessions.end(a.id)).toBe(false);
    expect(await sessions.principal(a.id)).toBeNull();
    // Another session of the same token lives on.
    expect(await sessions.principal(b.id)).toEqual(reader);
  });

  it('ends with its token, wherever the token was revoked', async () => {
    const sessions = store();
    const { id } = sessions.start(reader);
    expect(await tokens.revoke(reader.id)).toBe(true);
    expect(await sessions.principal(id)).toBeNull();
    expect(sessions.size()).toBe(0);
  });

  it('works for the bootstrap admin token while it is configured', async () => {
    const admin = await tokens.verify(ADMIN);
    expect(admin?.id).toBe(BOOTSTRAP_ADMIN_ID);
    const sessions = store();
    const { id } = sessions.start(admin as Principal);
    expect(await sessions.principal(id)).toEqual(admin);
    // A service started without NBSTAGE_ADMIN_TOKEN has no such token.
    const without = memorySessionStore(memoryTokenStore(), { lifetimeSeconds: 60, maxSessions: 9 });
    expect(await without.principal(without.start(admin as Principal).id)).toBeNull();
  });

  it('ends the oldest session when there are too many', async () => {
    const sessions = store(60, 3);
    const ids = [1, 2, 3, 4].map(() => sessions.start(reader).id);
    expect(sessions.size()).toBe(3);
    expect(await sessions.principal(ids[0])).toBeNull();
    for (const id of ids.slice(1)) {
      expect(await sessions.principal(id)).toEqual(reader);
    }
    // Expired sessions go before live ones.
    now += 61_000;
    const fresh = sessions.start(reader);
    expect(sessions.size()).toBe(1);
    expect(await sessions.principal(fresh.id)).toEqual(reader);
  });

  it('is no session for anything but an id it made', async () => {
    const sessions = store();
    sessions.start(reader);
    const principal = jest.spyOn(tokens, 'principal');
    for (const id of ['', 'x', 'A'.repeat(43), 'nbs_' + 'A'.repeat(43), 'A'.repeat(42) + '=']) {
      expect(await sessions.principal(id)).toBeNull();
      expect(sessions.end(id)).toBe(false);
    }
    expect(principal).not.toHaveBeenCalled();
  });
});
