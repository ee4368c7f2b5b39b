/**
 * The audit log: who did what to which run or token, and when. The file implementation appends
 * one JSON object per line to `<home>/audit.log` (mode 0600), in the order the records were made.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { JSONObject } from '../../pipelines/notebook/model';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-file';
import type { Principal } from './types';

/** Actions the service records; other strings are allowed for actions added later. */
export type AuditAction =
  'run.create' | 'run.cancel' | 'session.close' | 'token.create' | 'token.revoke';

/** What a caller records. */
export interface AuditRecord {
  /** What was done, `<noun>.<verb>`. */
  action: AuditAction | (string & Record<never, never>);
  /** Who did it. */
  principal: Principal;
  /** What it was done to: a run id, a token id, a job name. */
  target: string;
  /**
   * Anything else worth keeping (a job, a build, a role). The caller must keep secrets out:
   * never a token, a secret parameter's value or a password. The log stores what it is given.
   */
  details?: JSONObject;
}

/** One line of the log: the record with the time it was made. */
export interface AuditEntry extends AuditRecord {
  /** ISO 8601 time of the record. */
  time: string;
}

/** Where audit records go. */
export interface AuditLog {
  /** Appends a record, stamped with the current time; resolves once it is written. */
  record(entry: AuditRecord): Promise<void>;
}

/** The audit log file in nbstage's home. */
export function auditLogFile(home: string): string {
  return path.join(home, 'audit.log');
}

function entryOf(record: AuditRecord): AuditEntry {
  const entry: AuditEntry = {
    time: new Date().toISOString(),
    action: record.action,
    principal: {
      id: record.principal.id,
      name: record.principal.name,
      role: record.principal.role,
    },
    target: record.target,
  };
  if (record.details !== undefined) {
    entry.details = structuredClone(record.details);
  }
  return entry;
}

/**
 * An audit log in a JSON-lines file (`<home>/audit.log`), created with mode 0600. Appends of one
 * process are written in order; each line is a single `O_APPEND` write, so lines of several
 * processes interleave whole.
 */
export function fileAuditLog(file: string): AuditLog {
  let tail: Promise<void> = Promise.resolve();
  return {
    record(record: AuditRecord): Promise<void> {
      const line = JSON.stringify(entryOf(record)) + '\n';
      const write = async (): Promise<void> => {
        await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
        await appendFile(file, line, { encoding: 'utf8', mode: PRIVATE_FILE_MODE });
      };
      const next = tail.then(write, write);
      tail = next.catch(() => undefined);
      return next;
    },
  };
}

/** An audit log in memory; `entries` holds what was recorded, for tests. */
export function memoryAuditLog(): AuditLog & { readonly entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  return {
    entries,
    async record(record: AuditRecord): Promise<void> {
      entries.push(entryOf(record));
    },
  };
}
