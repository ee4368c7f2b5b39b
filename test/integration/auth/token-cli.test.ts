/**
 * The real `nbstage token` commands (bin/nbstage.js, compiled) against a file token store: a
 * token made by the CLI is accepted by a store that was already running (as `nbstage serve`'s
 * is), listing never shows tokens or hashes, revoking takes effect at once, every change is in
 * the audit log, and bad input exits 2 with a one-line reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { auditLogFile } from '../../../server/auth/audit';
import { fileTokenStore, hashToken, tokensFile } from '../../../server/auth/tokens';
import type { AuditEntry } from '../../../server/auth/audit';
import { cleanupDirs, runCli, tempDir } from '../../helpers/notebooks';

afterAll(cleanupDirs);

function newHome(): string {
  return path.join(tempDir(), 'home');
}

describe('nbstage token', () => {
  it('creates a token the running store accepts, lists it and revokes it', async () => {
    const home = newHome();
    const server = fileTokenStore(tokensFile(home));
    expect(await server.list()).toEqual([]);

    const created = await runCli([
      'token',
      'create',
      '--role',
      'run',
      '--name',
      'jenkins',
      '--home',
      home,
    ]);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(created.stdout).toBe(`${token}\n`);
    expect(token).toMatch(/^nbs_[A-Za-z0-9_-]{43}$/);
    const id = /created token ([0-9a-f]{12})/.exec(created.stderr)?.[1];
    expect(id).toBeDefined();
    expect(created.stderr).not.toContain(token);

    expect(await server.verify(token)).toEqual({ id, name: 'jenkins', role: 'run' });
    const text = fs.readFileSync(tokensFile(home), 'utf8');
    expect(text).not.toContain(token);
    expect(text).toContain(hashToken(token));
    expect(fs.statSync(tokensFile(home)).mode & 0o777).toBe(0o600);

    const table = await runCli(['token', 'list', '--home', home]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+ROLE\s+CREATED\s+LAST USED\s+NAME$/);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+run\\s+\\S+\\s+\\S+\\s+jenkins$`, 'm'));
    const json = await runCli(['token', 'list', '--json', '--home', home]);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({ id, name: 'jenkins', role: 'run', createdAt: expect.any(String) }),
    ]);
    expect(listed[0]).not.toHaveProperty('hash');
    expect(table.stdout + json.stdout).not.toContain(token);
    expect(table.stdout + json.stdout).not.toContain(hashToken(token));

    const revoked = await runCli(['token', 'revoke', id ?? '', '--home', home]);
    expect(revoked.code).toBe(0);
    expect(revoked.stderr).toContain(`revoked token ${id}`);
    expect(await server.verify(token)).toBeNull();

    const audit = fs
      .readFileSync(auditLogFile(home), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEntry);
    expect(audit.map((e) => [e.action, e.target])).toEqual([
      ['token.create', id],
      ['token.revoke', id],
    ]);
    expect(audit[0].details).toEqual({ name: 'jenkins', role: 'run' });
    expect(fs.readFileSync(auditLogFile(home), 'utf8')).not.toContain(token);
  });

  it('takes the home from NBSTAGE_HOME', async () => {
    const home = newHome();
    const res = await runCli(['token', 'create', '--role', 'admin'], {
      env: { NBSTAGE_HOME: home },
    });
    expect(res.code).toBe(0);
    expect(await fileTokenStore(tokensFile(home)).verify(res.stdout.trim())).toMatchObject({
      role: 'admin',
      name: 'admin token',
    });
  });

  it.each([
    ['an unknown role', ['create', '--role', 'root'], /--role.*root.*read, run, admin/],
    ['a missing role', ['create'], /--role/],
    ['an unknown id', ['revoke', '0123456789ab'], /no token with id "0123456789ab"/],
  ])('exits 2 for %s', async (_what, args, reason) => {
    const home = newHome();
    const res = await runCli(['token', ...args, '--home', home]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^nbstage: /);
    expect(lines[0]).toMatch(reason);
  });

  it('exits 2 naming the file and the field when tokens.json is corrupted', async () => {
    const home = newHome();
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(tokensFile(home), JSON.stringify({ version: 1, tokens: [{ id: 'x' }] }));
    const res = await runCli(['token', 'list', '--home', home]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(`nbstage: ${tokensFile(home)}: /tokens/0/name is missing`);
  });
});
