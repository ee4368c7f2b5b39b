/** `nbstage worker` as a real process from dist/, resolved once it says it is ready. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/nbstage.js');

/** A started `nbstage worker` and its id. */
export interface WorkerProcess {
  child: ChildProcess;
  id: string;
}

/**
 * Starts `nbstage worker --concurrency 1 ...args` with this process's environment and `env`
 * (its queue in `NBSTAGE_REDIS`); rejects if it exits before it is ready.
 */
export function startWorkerProcess(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<WorkerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'worker', '--concurrency', '1', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /worker (\S+) ready/.exec(err);
      if (m !== null) {
        resolve({ child, id: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
}

/** Stops workers (SIGTERM) and waits until each has exited. */
export async function stopWorkerProcesses(workers: readonly ChildProcess[]): Promise<void> {
  for (const w of workers) {
    w.kill('SIGTERM');
  }
  await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve) => (w.exitCode === null ? w.on('exit', resolve) : resolve(null))),
    ),
  );
}
