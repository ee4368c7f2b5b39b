/**
 * `nbstage serve` as a real process from dist/ (what users run): started on a free port with a
 * bootstrap admin token, resolved once it says where it serves; and one for a describe block,
 * with its tokens ({@link useServeProcess}).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileTokenStore, tokensFile } from '../../server/auth/tokens';
import { cleanupDirs, tempDir } from './notebooks';

const BIN = path.resolve(__dirname, '../../bin/nbstage.js');

/** A started `nbstage serve`. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Settles when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `nbstage serve --port 0 --home HOME ...args`; rejects if it exits before serving. */
export function startServeProcess(
  home: string,
  admin: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--home', home, ...args], {
    env: { ...process.env, NBSTAGE_ADMIN_TOKEN: admin, NBSTAGE_HOME: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const match = /nbstage: serving on (\S+)/.exec(stderr);
      if (match !== null) {
        resolve({ child, url: match[1], exited });
      }
    });
    void exited.then(({ code }) => reject(new Error(`nbstage serve exited (${code}): ${stderr}`)));
  });
}

/** A service for one describe block: its home, URL and tokens (see {@link useServeProcess}). */
export interface UsedServe {
  /** The service's home (its store, tokens and content). */
  home: string;
  url(): string;
  /** A token of `role`, made once the service is up. */
  token(role: 'run' | 'read'): string;
}

/**
 * `nbstage serve --workers 1` on a fresh home for the enclosing describe block, with a run and a
 * read token in its token file; stopped, and the test folders removed, after the block.
 */
export function useServeProcess(): UsedServe {
  const home = tempDir();
  let serve: ServeProcess | undefined;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    serve = await startServeProcess(home, `test-${randomUUID()}`, ['--workers', '1']);
    const store = fileTokenStore(tokensFile(home));
    for (const role of ['run', 'read'] as const) {
      tokens[role] = (await store.create({ role, name: `test-${randomUUID()}-${role}` })).token;
    }
  }, 60_000);
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    cleanupDirs();
  });
  return { home, url: () => serve?.url ?? '', token: (role) => tokens[role] ?? '' };
}
