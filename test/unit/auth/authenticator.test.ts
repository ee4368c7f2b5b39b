/**
 * The failed-authentication limit, on a memory token store with an injected clock: a client may
 * fail a burst of N times; after that every credential it presents, a good one too, is refused
 * unchecked with the seconds to wait, until it has regained one (N per minute); clients are
 * limited apart, successes cost nothing, and errors of the store count as nothing. Also the
 * client keys (an IPv6 /64 is one client) and the limits read from the environment.
 */
import { UsageError } from '../../../pipelines/errors';
import { Authenticator } from '../../../server/auth/authenticator';
import { clientKey } from '../../../server/auth/client-address';
import { DEFAULT_AUTH_LIMITS, authLimitsFromEnv } from '../../../server/auth/limits';
import { generateToken, memoryTokenStore } from '../../../server/auth/tokens';
import type { TokenStore } from '../../../server/auth/types';

describe('Authenticator', () => {
  let now = 1_000_000;
  let store: TokenStore;
  let good: string;
  const bad = { kind: 'token', token: generateToken().token } as const;

  beforeEach(async () => {
    now = 1_000_000;
    store = memoryTokenStore();
    good = (await store.create({ role: 'read', name: 'test-reader' })).token;
  });

  const authenticator = (perMinute = 5): Authenticator =>
    new Authenticator({
      tokens: store,
      limits: { authFailuresPerMinute: perMinute },
      now: () => now,
    });

  it('refuses a client after a burst of failures, its good token too, with the wait', async () => {
    const auth = authenticator(5);
    for (let i = 0; i < 5; i++) {
      expect(await auth.check(bad, 'ip:10.0.0.1')).toEqual({ ok: false, limited: false });
    }
    // 5 per minute: one comes back every 12 s.
    expect(await auth.check(bad, 'ip:10.0.0.1')).toEqual({
      ok: false,
      limited: true,
      retryAfter: 12,
    });
    const verify = jest.spyOn(store, 'verify');
    expect(await auth.check({ kind: 'token', token: good }, 'ip:10.0.0.1')).toEqual({
      ok: false,
      limited: true,
      retryAfter: 12,
    });
    expect(verify).not.toHaveBeenCalled();
  });

  it('lets the client try again as it regains attempts, never more than the burst', async () => {
    const auth = authenticator(5);
    for (let i = 0; i < 5; i++) {
      await auth.check(bad, 'ip:10.0.0.1');
    }
    now += 11_000;
    expect(await auth.check(bad, 'ip:10.0.0.1')).toMatchObject({ limited: true, retryAfter: 1 });
    now += 1_000;
    expect(await auth.check({ kind: 'token', token: good }, 'ip:10.0.0.1')).toMatchObject({
      ok: true,
      principal: { name: 'test-reader' },
    });
    expect(await auth.check(bad, 'ip:10.0.0.1')).toEqual({ ok: false, limited: false });
    expect(await auth.check(bad, 'ip:10.0.0.1')).toMatchObject({ limited: true });
    now += 3_600_000;
    const limited: boolean[] = [];
    for (let i = 0; i < 7; i++) {
      const outcome = await auth.check(bad, 'ip:10.0.0.1');
      limited.push(!outcome.ok && outcome.limited);
    }
    expect(limited).toEqual([false, false, false, false, false, true, true]);
  });

  it('limits clients apart and never counts successes', async () => {
    const auth = authenticator(2);
    for (let i = 0; i < 50; i++) {
      expect((await auth.check({ kind: 'token', token: good }, 'ip:10.0.0.1')).ok).toBe(true);
    }
    await auth.check(bad, 'ip:10.0.0.1');
    await auth.check(bad, 'ip:10.0.0.1');
    expect(await auth.check(bad, 'ip:10.0.0.1')).toMatchObject({ limited: true });
    expect(await auth.check(bad, 'ip:10.0.0.2')).toEqual({ ok: false, limited: false });
  });

  it('checks login sessions the same way; a dead one counts as a failure', async () => {
    const auth = authenticator(2);
    const principal = await store.verify(good);
    const { id } = auth.sessions.start(principal ?? { id: '', name: '', role: 'read' });
    expect(await auth.check({ kind: 'session', id }, 'ip:10.0.0.1')).toMatchObject({
      ok: true,
      principal: { name: 'test-reader' },
    });
    auth.sessions.end(id);
    expect(await auth.check({ kind: 'session', id }, 'ip:10.0.0.1')).toEqual({
      ok: false,
      limited: false,
    });
    await auth.check({ kind: 'session', id: 'forged' }, 'ip:10.0.0.1');
    expect(await auth.check({ kind: 'token', token: good }, 'ip:10.0.0.1')).toMatchObject({
      limited: true,
    });
  });

  it('lets sessions last the limits’ lifetime', async () => {
    const auth = new Authenticator({
      tokens: store,
      limits: { sessionSeconds: 10 },
      now: () => now,
    });
    const principal = await store.verify(good);
    const { id, maxAgeSeconds } = auth.sessions.start(
      principal ?? { id: '', name: '', role: 'read' },
    );
    expect(maxAgeSeconds).toBe(10);
    now += 10_000;
    expect((await auth.check({ kind: 'session', id }, 'ip:10.0.0.1')).ok).toBe(false);
  });

  it('passes errors of the store on without counting them', async () => {
    const auth = authenticator(1);
    jest.spyOn(store, 'verify').mockRejectedValueOnce(new Error('tokens.json is corrupted'));
    await expect(auth.check(bad, 'ip:10.0.0.1')).rejects.toThrow('corrupted');
    expect(await auth.check(bad, 'ip:10.0.0.1')).toEqual({ ok: false, limited: false });
  });
});

describe('clientKey', () => {
  it('is the IPv4 address, also when mapped into IPv6', () => {
    expect(clientKey('10.1.2.3')).toBe('ip:10.1.2.3');
    expect(clientKey('::ffff:10.1.2.3')).toBe('ip:10.1.2.3');
    expect(clientKey('::ffff:a01:203')).toBe('ip:10.1.2.3');
  });

  it('is the /64 network of an IPv6 address', () => {
    const key = clientKey('2001:db8:1:2:aaaa::1');
    expect(key).toBe('ip6:2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(key);
    expect(clientKey('2001:db8:1:3::1')).not.toBe(key);
    expect(clientKey('::1')).toBe('ip6:0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('ip6:fe80:0:0:0::/64');
  });

  it('keeps anything else as it is', () => {
    expect(clientKey(undefined)).toBe('addr:unknown');
    expect(clientKey('/run/nbstage.sock')).toBe('addr:/run/nbstage.sock');
  });
});

describe('authLimitsFromEnv', () => {
  it('reads each limit from its variable, the default when unset or empty', () => {
    expect(authLimitsFromEnv({})).toEqual(DEFAULT_AUTH_LIMITS);
    expect(authLimitsFromEnv({ NBSTAGE_AUTH_FAILURES_PER_MINUTE: '' })).toEqual(
      DEFAULT_AUTH_LIMITS,
    );
    expect(authLimitsFromEnv({ NBSTAGE_AUTH_FAILURES_PER_MINUTE: ' 300 ' })).toMatchObject({
      authFailuresPerMinute: 300,
    });
  });

  it('reads the sessions’ lifetime and number', () => {
    expect(
      authLimitsFromEnv({ NBSTAGE_SESSION_SECONDS: '3600', NBSTAGE_MAX_SESSIONS: '50' }),
    ).toMatchObject({ sessionSeconds: 3600, maxSessions: 50 });
    expect(() => authLimitsFromEnv({ NBSTAGE_SESSION_SECONDS: '12h' })).toThrow(
      /^NBSTAGE_SESSION_SECONDS: must be a positive integer, got "12h"$/,
    );
  });

  it('refuses what is not a positive integer, naming the variable', () => {
    for (const value of ['0', '-1', '1.5', 'ten', '1e3', '99999999999999999999']) {
      expect(() => authLimitsFromEnv({ NBSTAGE_AUTH_FAILURES_PER_MINUTE: value })).toThrow(
        UsageError,
      );
      expect(() => authLimitsFromEnv({ NBSTAGE_AUTH_FAILURES_PER_MINUTE: value })).toThrow(
        /^NBSTAGE_AUTH_FAILURES_PER_MINUTE: must be a positive integer/,
      );
    }
  });
});
