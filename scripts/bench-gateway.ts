/**
 * A Jupyter Kernel Gateway for the gateway case of `npm run bench`: started from the project's
 * `.venv` on a free port of 127.0.0.1 with a random token, ready once GET /api answers, and
 * stopped (it shuts its kernels down) by whoever started it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../kernels/jupyter-server';
import { pause, venvBin } from './bench-common';

/** A running gateway; {@link KernelGateway.close} stops it. */
export interface KernelGateway {
  url: string;
  token: string;
  /** SIGTERM (the gateway shuts its kernels down), SIGKILL after 10 s. Idempotent. */
  close(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a gateway and waits (up to 60 s) until GET /api answers 200. */
export async function startKernelGateway(): Promise<KernelGateway> {
  const port = await freePort();
  const token = randomBytes(18).toString('hex');
  const url = `http://127.0.0.1:${port}`;
  // Its own working folder: kernels start there.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-kg-'));
  const child = spawn(
    path.join(venvBin, 'jupyter'),
    [
      'kernelgateway',
      '--KernelGatewayApp.ip=127.0.0.1',
      `--KernelGatewayApp.port=${port}`,
      '--KernelGatewayApp.port_retries=0',
      `--KernelGatewayApp.auth_token=${token}`,
      '--KernelGatewayApp.log_level=WARN',
    ],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PATH: `${venvBin}${path.delimiter}${process.env.PATH ?? ''}` },
    },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-2000);
  });
  const gone = exited(child);
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(killer);
      fs.rmSync(dir, { recursive: true, force: true });
    })();
    return closed;
  };
  let exitedEarly = false;
  void gone.then(() => {
    exitedEarly = true;
  });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (exitedEarly) {
        throw new Error(`kernel gateway exited before it answered: ${log}`);
      }
      try {
        const res = await fetch(`${url}/api`, { headers: { authorization: `token ${token}` } });
        await res.arrayBuffer();
        if (res.status === 200) {
          return { url, token, close };
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`kernel gateway did not answer GET /api within 60 s: ${log}`);
      }
      await pause(100);
    }
  } catch (err) {
    await close();
    throw err;
  }
}
