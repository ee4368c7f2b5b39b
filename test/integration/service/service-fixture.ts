/**
 * What the service suites share: one real service per test file (in-process queue and workers,
 * a supervised Jupyter server, the git version store) in a `test-<uuid>` home, with an admin
 * token and read/run tokens made through the file token store; tiny notebooks; a websocket
 * client for run streams; and readers of everything the home holds (files and git objects).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import type { Notebook } from '../../../pipelines/notebook/model';
import { fileTokenStore, tokensFile, type Role } from '../../../server/auth/tokens';
import type { ServiceRun } from '../../../server/runs/service-run';
import { startService, type Service, type ServiceOptions } from '../../../server/service';
import { cellText, cleanupDirs, tempDir } from '../../helpers/notebooks';

/** A started service and what a test needs to talk to it. */
export interface TestService {
  service: Service;
  url: string;
  home: string;
  /** The bootstrap admin token (`NBSTAGE_ADMIN_TOKEN`). */
  admin: string;
  /** A read-only token and its name. */
  read: string;
  readName: string;
  /** A token with role run and its name. */
  run: string;
  runName: string;
  /** The service's log lines (JSON). */
  logs: string[];
  /** Makes another token of the home's token store (named `test-<uuid>-<role>`). */
  token(role: Role): Promise<{ token: string; name: string }>;
}

/**
 * Starts one service for the test file in beforeAll and closes it in afterAll; the returned
 * function gives the started service to the tests.
 */
export function useService(options: Partial<ServiceOptions> = {}): () => TestService {
  let current: TestService | null = null;
  beforeAll(async () => {
    const home = options.home ?? tempDir();
    const admin = `test-${randomUUID()}`;
    const logs: string[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const service = await startService({
      port: 0,
      env: { NBSTAGE_ADMIN_TOKEN: admin },
      logStream,
      workers: 2,
      drainSeconds: 0,
      ...options,
      home,
    });
    const store = fileTokenStore(tokensFile(home));
    const token = async (role: Role): Promise<{ token: string; name: string }> => {
      const name = `test-${randomUUID()}-${role}`;
      const made = await store.create({ role, name });
      return { token: made.token, name };
    };
    const read = await token('read');
    const run = await token('run');
    current = {
      service,
      url: service.url,
      home,
      admin,
      read: read.token,
      readName: read.name,
      run: run.token,
      runName: run.name,
      logs,
      token,
    };
  });
  afterAll(async () => {
    await current?.service.close();
    cleanupDirs();
  });
  return () => {
    if (current === null) {
      throw new Error('the service did not start');
    }
    return current;
  };
}

/** `Authorization` header value of a token. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** Waits until a run has finished and been versioned. */
export async function settled(t: TestService, id: string): Promise<ServiceRun> {
  const record = await t.service.runs.settled(id);
  if (record === null) {
    throw new Error(`no run ${id}`);
  }
  return record;
}

/** The text of every cell's outputs, in order. */
export function notebookText(nb: Notebook): string {
  return nb.cells.map((_, i) => cellText(nb, i)).join('');
}

/**
 * Polls `GET /runs/:id/notebook` until some output shows `text` (the run got that far), failing
 * when the run finishes first.
 */
export async function untilOutput(
  url: string,
  token: string,
  id: string,
  text: string,
): Promise<void> {
  const headers = { Authorization: bearer(token) };
  for (;;) {
    // The record first: a run that had finished before its notebook was read cannot print more.
    const run = (await (await fetch(`${url}/api/v1/runs/${id}`, { headers })).json()) as ServiceRun;
    const res = await fetch(`${url}/api/v1/runs/${id}/notebook`, { headers });
    if (res.ok && notebookText((await res.json()) as Notebook).includes(text)) {
      return;
    }
    if (run.finishedAt !== null) {
      throw new Error(`run ${id} finished (${run.state}) without printing "${text}"`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One message of a run stream. */
export interface StreamMessage {
  seq: number;
  event: { type: string } & Record<string, unknown>;
}

/** What a websocket client of a run stream saw. */
export interface StreamResult {
  /** The HTTP status when the upgrade was refused, else null. */
  status: number | null;
  headers: Record<string, string | string[] | undefined>;
  /** The refusal's body. */
  body: string;
  messages: StreamMessage[];
  /** The close code, null when refused. */
  closeCode: number | null;
}

/**
 * Opens `/api/v1/runs/<id>/stream` and collects everything until the server closes it (or
 * refuses it). `onOpen` runs once the socket is open.
 */
export function openStream(
  url: string,
  id: string,
  options: { token?: string; from?: number; query?: string; onOpen?: () => void } = {},
): Promise<StreamResult> {
  const query = [
    options.from === undefined ? '' : `from=${options.from}`,
    options.query ?? '',
  ].filter(Boolean);
  const target = `${url.replace(/^http/, 'ws')}/api/v1/runs/${id}/stream${
    query.length > 0 ? `?${query.join('&')}` : ''
  }`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target, {
      headers: options.token === undefined ? {} : { Authorization: bearer(options.token) },
    });
    const messages: StreamMessage[] = [];
    ws.on('open', () => options.onOpen?.());
    ws.on('message', (data: WebSocket.RawData) => {
      messages.push(JSON.parse(data.toString()) as StreamMessage);
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          messages,
          closeCode: null,
        }),
      );
    });
    ws.on('error', reject);
    ws.on('close', (code) =>
      resolve({ status: null, headers: {}, body: '', messages, closeCode: code }),
    );
  });
}

/** Every file under `dir`, recursively (paths). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...filesUnder(full));
    } else if (entry.isFile()) {
      out.push(full);
    }
  }
  return out;
}

/** The content of every object (loose or packed) of a git repository, concatenated. */
export function gitObjects(gitDir: string): Buffer {
  return execFileSync('git', ['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch'], {
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** URL path segment of a job name (slashes included, encoded). */
export function jobPath(job: string): string {
  return encodeURIComponent(job);
}
