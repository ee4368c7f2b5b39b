/**
 * What a remote Jupyter server or gateway needs beyond the plain REST API: the caller's
 * `KERNEL_*` environment in each start request, as jupyter_server's own gateway client sends it
 * (Enterprise Gateway refuses a kernel without `KERNEL_USERNAME`), and sessions kept by kernel id
 * where the gateway has no sessions API (Kernel Gateway, Enterprise Gateway), in small files of
 * this machine's runtime folder so that the runs of one session, each its own process, find the
 * kernel again.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The environment a start request carries: every `KERNEL_*` variable of `env` and
 * `KERNEL_USERNAME`, defaulting to the OS user this process runs as.
 */
export function gatewayKernelEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('KERNEL_') && value !== undefined) {
      out[name] = value;
    }
  }
  if (out.KERNEL_USERNAME === undefined || out.KERNEL_USERNAME === '') {
    out.KERNEL_USERNAME = os.userInfo().username;
  }
  return out;
}

/** The kernel a session was given on a server without a sessions API. */
export interface SessionKernelRecord {
  kernelId: string;
  name: string;
}

/** Whether an HTTP status means "this server has no sessions API" (or forbids it). */
export function noSessionsApi(status: number | null): boolean {
  return status === 403 || status === 404 || status === 405;
}

/**
 * Session -> kernel id of one server, one file per session (0600, in a 0700 folder), written
 * atomically: runs of different sessions never contend, a crash leaves no half-written record.
 */
export class SessionKernelIndex {
  private readonly dir: string;

  constructor(runtimeDir: string, serverUrl: string) {
    const server = createHash('sha256').update(serverUrl).digest('hex').slice(0, 16);
    this.dir = path.join(runtimeDir, 'gateway-sessions', server);
  }

  private file(session: string): string {
    const name = createHash('sha256').update(session).digest('hex').slice(0, 32);
    return path.join(this.dir, `${name}.json`);
  }

  /** The session's kernel, or null when none is recorded (or the record is unreadable). */
  get(session: string): SessionKernelRecord | null {
    try {
      const record = JSON.parse(fs.readFileSync(this.file(session), 'utf8')) as unknown;
      if (
        typeof record === 'object' &&
        record !== null &&
        typeof (record as SessionKernelRecord).kernelId === 'string' &&
        typeof (record as SessionKernelRecord).name === 'string'
      ) {
        return record as SessionKernelRecord;
      }
    } catch {
      // None yet, or unreadable: the session starts a new kernel.
    }
    return null;
  }

  set(session: string, record: SessionKernelRecord): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(session)}.${randomUUID()}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ ...record, session }), { mode: 0o600 });
    fs.renameSync(tmp, this.file(session));
  }

  delete(session: string): void {
    fs.rmSync(this.file(session), { force: true });
  }
}
