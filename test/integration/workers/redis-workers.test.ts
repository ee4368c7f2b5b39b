/**
 * The service on Redis with two real `nbstage worker` processes: a run that needs the `gpu`
 * label goes only to the worker that has it; a worker SIGKILLed mid-run ends its run as failed
 * with a clear reason within the stall interval, and the partial notebook is versioned.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startService, type Service } from '../../../server/service';
import { NbstageClient } from '../../../client/api-client';
import { useRedisServer } from '../../helpers/redis';
import { cellText, cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';

const BIN = path.resolve(__dirname, '../../../bin/nbstage.js');
const STALLED_MS = 2000;
const SECRET_KEY = `test-key-${randomBytes(8).toString('hex')}`;

function startWorker(url: string, labels: string): Promise<{ child: ChildProcess; id: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, 'worker', '--redis', url, '--labels', labels, '--concurrency', '1'],
      {
        env: {
          ...process.env,
          NBSTAGE_STALLED_INTERVAL_MS: String(STALLED_MS),
          NBSTAGE_SECRET_KEY: SECRET_KEY,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /worker (\S+) ready/.exec(err);
      if (m) {
        resolve({ child, id: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
}

describe('Redis queue with nbstage worker processes', () => {
  const redis = useRedisServer();
  let service: Service;
  let client: NbstageClient;
  const workers: ChildProcess[] = [];
  const token = randomBytes(18).toString('hex');

  beforeAll(async () => {
    process.env.NBSTAGE_STALLED_INTERVAL_MS = String(STALLED_MS);
    service = await startService({
      home: tempDir(),
      port: 0,
      redis: redis().url,
      workers: 0,
      env: {
        NBSTAGE_ADMIN_TOKEN: token,
        NBSTAGE_STALLED_INTERVAL_MS: String(STALLED_MS),
        NBSTAGE_SECRET_KEY: SECRET_KEY,
      },
      logStream: { write: () => true } as unknown as NodeJS.WritableStream,
    });
    client = new NbstageClient(service.url, token);
  }, 60000);

  afterAll(async () => {
    for (const w of workers) {
      w.kill('SIGKILL');
    }
    await service.close();
    cleanupDirs();
  }, 60000);

  it('sends a gpu-labelled run only to the worker with the gpu label', async () => {
    const cpu = await startWorker(redis().url, 'cpu');
    const gpu = await startWorker(redis().url, 'gpu');
    workers.push(cpu.child, gpu.child);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await client.createRun({
        notebook: makeNotebook(['print("on a gpu worker")']) as never,
        labels: ['gpu'],
        job: 'test/gpu-routing',
        build: String(i + 1),
      });
      ids.push(run.id);
    }
    const plain = await client.createRun({
      notebook: makeNotebook(['print("anywhere")']) as never,
      job: 'test/gpu-routing',
      build: '9',
    });
    for (const id of [...ids, plain.id]) {
      await service.runs.settled(id);
    }
    for (const id of ids) {
      const record = await client.getRun(id);
      expect(record.state).toBe('completed');
      expect(record.workerId).toBe(gpu.id);
    }
    expect((await client.getRun(plain.id)).state).toBe('completed');
    const workersSeen = (await (
      await fetch(`${service.url}/api/v1/workers`, {
        headers: { Authorization: `Bearer ${token}` },
      })
    ).json()) as { id: string; labels: string[] }[];
    expect(workersSeen.find((w) => w.id === gpu.id)?.labels).toContain('gpu');
  }, 120000);

  it('carries secrets to the worker sealed: they never reach Redis in the clear', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    const run = await client.createRun({
      notebook: makeNotebook([
        'import os\nprint("len", len(os.environ["API_KEY"]), os.environ["API_KEY"])',
      ]) as never,
      secrets: { API_KEY: secret },
      job: 'test/secrets',
      build: '1',
    });
    await service.runs.settled(run.id);
    const nb = await client.notebook(run.id);
    expect(cellText(nb, 0)).toBe(`len ${secret.length} ****\n`);
    // Redis writes every command to its append-only file: the secret must not be in it.
    const { execFileSync } = await import('node:child_process');
    const files = execFileSync('find', [redis().dir, '-type', 'f'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(files.length).toBeGreaterThan(0);
    const fs = await import('node:fs');
    for (const file of files) {
      expect(fs.readFileSync(file).includes(Buffer.from(secret))).toBe(false);
    }
  }, 120000);

  it('fails a run whose worker is SIGKILLed, within the stall interval, versioning the partial notebook', async () => {
    const doomed = await startWorker(redis().url, 'doomed');
    workers.push(doomed.child);
    const run = await client.createRun({
      notebook: makeNotebook([
        'print("before the crash", flush=True)',
        'import time\nprint("working", flush=True)\ntime.sleep(120)',
      ]) as never,
      labels: ['doomed'],
      job: 'test/worker-crash',
      build: '1',
    });
    // Wait until the second cell has printed, then kill the worker outright.
    const events: string[] = [];
    let killedAt = 0;
    const stream = client.stream(run.id, (event) => {
      events.push(String(event.type));
      const output = event.output as { text?: string } | undefined;
      if (event.type === 'output' && String(output?.text ?? '').includes('working')) {
        if (killedAt === 0) {
          killedAt = Date.now();
          doomed.child.kill('SIGKILL');
        }
      }
    });
    await stream;
    const settled = await service.runs.settled(run.id);
    expect(killedAt).toBeGreaterThan(0);
    // The queue notices within its stall interval (plus the time to version the notebook).
    expect(Date.now() - killedAt).toBeLessThan(STALLED_MS * 4);
    expect(settled?.state).toBe('kernel_died');
    expect(settled?.error?.message).toMatch(new RegExp(`worker ${doomed.id}.*stopped responding`));
    expect(settled?.version).not.toBeNull();
    const nb = await client.notebook(run.id);
    expect(cellText(nb, 0)).toBe('before the crash\n');
    expect(cellText(nb, 1)).toContain('working');
    expect(events[0]).toBe('run-start');
  }, 120000);
});
