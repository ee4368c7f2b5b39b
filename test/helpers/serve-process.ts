/**
 * `nbstage serve` as a real process from dist/ (what users run): started on a free port with a
 * bootstrap admin token, resolved once it says where it serves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

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
