/**
 * The audit log: one JSON line per record, in order, with a timestamp, in a 0600 file that is
 * appended to (never rewritten).
 */
import fs from 'node:fs';
import path from 'node:path';
import { auditLogFile, fileAuditLog, memoryAuditLog } from '../../../server/auth/audit';
import type { AuditEntry } from '../../../server/auth/audit';
import type { Principal } from '../../../server/auth/tokens';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';

const ops: Principal = { id: '0123456789ab', name: 'ops', role: 'admin' };

afterAll(cleanupDirs);

function readLines(file: string): AuditEntry[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditEntry);
}

describe('fileAuditLog', () => {
  it('appends one JSON line per record, in order, with the time', async () => {
    const home = path.join(tempDir(), 'home');
    const file = auditLogFile(home);
    const log = fileAuditLog(file);
    const before = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        log.record({ action: 'run.create', principal: ops, target: `run-${i}` }),
      ),
    );
    await log.record({
      action: 'token.revoke',
      principal: ops,
      target: 'fedcba987654',
      details: { reason: 'rotated', count: 1 },
    });
    const lines = readLines(file);
    expect(lines.map((l) => l.target)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => `run-${i}`),
      'fedcba987654',
    ]);
    expect(lines[20]).toEqual({
      time: expect.any(String),
      action: 'token.revoke',
      principal: ops,
      target: 'fedcba987654',
      details: { reason: 'rotated', count: 1 },
    });
    expect(lines[0]).not.toHaveProperty('details');
    expect(Date.parse(lines[0].time)).toBeGreaterThanOrEqual(before - 1000);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps what an earlier process wrote', async () => {
    const file = auditLogFile(tempDir());
    await fileAuditLog(file).record({ action: 'run.cancel', principal: ops, target: 'a' });
    await fileAuditLog(file).record({ action: 'custom.thing', principal: ops, target: 'b' });
    expect(readLines(file).map((l) => l.action)).toEqual(['run.cancel', 'custom.thing']);
  });

  it('copies only id, name and role of the principal', async () => {
    const log = memoryAuditLog();
    const extra = { ...ops, token: 'nbs_secret' } as Principal;
    await log.record({ action: 'run.create', principal: extra, target: 'r' });
    expect(log.entries[0].principal).toEqual(ops);
    expect(JSON.stringify(log.entries)).not.toContain('nbs_secret');
  });
});
