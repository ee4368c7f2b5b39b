/**
 * A real `nbstage serve` process for the bench's service cases (flood, workspace): started from
 * a build's bin/nbstage.js on a free port, in its own home, with a bootstrap admin token;
 * resolved once it says where it serves, stopped (SIGTERM, then waited for) by `close()`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { venvBin } from './bench-common';

/** A started `nbstage serve`. */
export interface BenchServe {
  /** Where it serves, `http://127.0.0.1:PORT`. */
  url: string;
  /** Its port. */
  port: number;
  /** The admin token it accepts. */
  token: string;
  /** Its process id. */
  pid: number;
  /** Its home (removed by `close()`). */
  home: string;
  /** Stops the process and removes its home; safe to call twice. */
  close(): Promise<void>;
}

/** Starts `node BIN serve --port 0 --home <temp> ...args`; rejects if it exits before serving. */
export async function startServe(bin: string, args: string[] = []): Promise<BenchServe> {
  const token = randomBytes(18).toString('hex');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-home-'));
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--home', home, ...args], {
    env: {
      ...process.env,
      NBSTAGE_ADMIN_TOKEN: token,
      NBSTAGE_HOME: '',
      PATH: `${venvBin}${path.delimiter}${process.env.PATH ?? ''}`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
    }
    await exited;
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-8000);
        const match = /nbstage: serving on (\S+)/.exec(stderr);
        if (match !== null) {
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`nbstage serve exited (${code}): ${stderr}`)));
    });
    // Keep reading its log, so a full pipe never blocks it.
    child.stderr.resume();
    return { url, port: Number(new URL(url).port), token, pid: child.pid ?? 0, home, close };
  } catch (err) {
    await close();
    throw err;
  }
}
