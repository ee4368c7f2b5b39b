/**
 * Workspaces with Redis and two `nbstage worker` processes of different hosts
 * (`NBSTAGE_HOST_ID`), which fetch the workspace from the service over HTTP into a cache of
 * their own and upload what the run wrote: a run from host B goes to B's worker (affinity), a
 * run from a host without a worker to either; each reads its workspace and hands back its
 * outputs. A worker without NBSTAGE_URL refuses a run with a workspace, saying why. A worker with
 * `--workspace-root` runs a workspace of its own host under it in place: the kernel works in the
 * caller's folder, and nothing is uploaded.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileTokenStore, tokensFile } from '../../../server/auth/tokens';
import type { ServiceRun } from '../../../server/runs/service-run';
import { cleanupDirs, makeNotebook, runCli, tempDir } from '../../helpers/notebooks';
import { startRedisServer, type RedisServer } from '../../helpers/redis';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';
import { startWorkerProcess, stopWorkerProcesses } from '../../helpers/worker-process';

/** A workspace: data, and a notebook in a subfolder that reads it and writes a result. */
function workspace(parent?: string): { root: string; nb: string } {
  const root = parent === undefined ? tempDir() : fs.mkdtempSync(path.join(parent, 'ws-'));
  fs.mkdirSync(path.join(root, 'data'));
  fs.mkdirSync(path.join(root, 'nb'));
  fs.writeFileSync(path.join(root, 'data', 'values.txt'), '3\n4\n5\n');
  const nb = path.join(root, 'nb', 'sum.ipynb');
  fs.writeFileSync(
    nb,
    JSON.stringify(
      makeNotebook([
        'total = sum(int(v) for v in open("../data/values.txt").read().split())\n' +
          'print("total", total)\n' +
          'import os\nprint("cwd", os.getcwd())\n' +
          'open("../result.txt", "w").write(str(total))',
      ]),
    ),
  );
  return { root, nb };
}

describe('workspaces on Redis workers of two hosts', () => {
  let redis: RedisServer | undefined;
  let serve: ServeProcess | undefined;
  const workers: { child: ChildProcess; id: string; host: string }[] = [];
  const home = tempDir();
  const admin = `test-${randomUUID()}`;
  let runToken = '';
  const secretKey = `test-key-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    redis = await startRedisServer();
    const env = { NBSTAGE_REDIS: redis.url, NBSTAGE_SECRET_KEY: secretKey };
    serve = await startServeProcess(home, admin, ['--workers', '0'], env);
    runToken = (
      await fileTokenStore(tokensFile(home)).create({ role: 'run', name: `test-${randomUUID()}` })
    ).token;
    for (const host of ['test-host-a', 'test-host-b']) {
      const worker = await startWorkerProcess({
        ...env,
        NBSTAGE_HOST_ID: host,
        NBSTAGE_URL: serve.url,
        NBSTAGE_TOKEN: runToken,
        NBSTAGE_CACHE_DIR: tempDir(),
      });
      workers.push({ ...worker, host });
    }
  }, 60_000);
  afterAll(async () => {
    await stopWorkerProcesses(workers.map((w) => w.child));
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await redis?.stop();
    cleanupDirs();
  });

  async function runFrom(
    host: string,
  ): Promise<{ code: number; record: ServiceRun; root: string }> {
    const { root, nb } = workspace();
    const res = await runCli(
      ['run', '--no-progress', '--json', '--server', serve?.url ?? '', '--workspace', root, nb],
      {
        env: { NBSTAGE_TOKEN: runToken, NBSTAGE_HOST_ID: host, WORKSPACE: '' },
      },
    );
    const summary = JSON.parse(res.stdout) as { run_id: string };
    const record = (await (
      await fetch(`${serve?.url ?? ''}/api/v1/runs/${summary.run_id}`, {
        headers: { Authorization: `Bearer ${runToken}` },
      })
    ).json()) as ServiceRun;
    return { code: res.code ?? -1, record, root };
  }

  it('runs a run from host B on B’s worker, with its workspace, and brings back its output', async () => {
    for (let i = 0; i < 3; i++) {
      const { code, record, root } = await runFrom('test-host-b');
      expect(code).toBe(0);
      expect(record.workerId).toBe(workers[1].id);
      expect(record.host).toBe('test-host-b');
      expect(fs.readFileSync(path.join(root, 'result.txt'), 'utf8')).toBe('12');
      expect(record.workspace?.outputs.map((o) => o.path)).toEqual(['result.txt']);
    }
  });

  it('a worker without NBSTAGE_URL refuses a run with a workspace, saying why', async () => {
    const lone = await startWorkerProcess(
      {
        NBSTAGE_REDIS: redis?.url ?? '',
        NBSTAGE_SECRET_KEY: secretKey,
        NBSTAGE_URL: '',
      },
      ['--labels', 'test-lone'],
    );
    workers.push({ ...lone, host: 'none' });
    // The workspace of an earlier run (its contents are stored), asked of the lone worker.
    const headers = { Authorization: `Bearer ${runToken}`, 'Content-Type': 'application/json' };
    const runs = (await (
      await fetch(`${serve?.url ?? ''}/api/v1/runs`, { headers })
    ).json()) as ServiceRun[];
    const manifest = runs.find((r) => r.workspace !== undefined)?.workspace?.digest;
    const created = await fetch(`${serve?.url ?? ''}/api/v1/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        notebook: makeNotebook(['1']),
        labels: ['test-lone'],
        workspace: { manifest },
      }),
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as { id: string }).id;
    let record: ServiceRun;
    do {
      await new Promise((r) => setTimeout(r, 100));
      record = (await (
        await fetch(`${serve?.url ?? ''}/api/v1/runs/${id}`, { headers })
      ).json()) as ServiceRun;
    } while (record.finishedAt === null);
    expect(record.workerId).toBe(lone.id);
    expect(record.error?.message).toContain('this worker cannot fetch workspaces');
    // It would take unlabelled runs too: gone before the next test.
    lone.child.kill('SIGTERM');
    await new Promise((resolve) => lone.child.on('exit', resolve));
  });

  it('runs a workspace of its own host under --workspace-root in place: no copy, no upload', async () => {
    const base = fs.realpathSync(tempDir());
    const place = await startWorkerProcess(
      {
        NBSTAGE_REDIS: redis?.url ?? '',
        NBSTAGE_SECRET_KEY: secretKey,
        NBSTAGE_HOST_ID: 'test-host-c',
        NBSTAGE_URL: serve?.url ?? '',
        NBSTAGE_TOKEN: runToken,
        NBSTAGE_CACHE_DIR: tempDir(),
      },
      ['--workspace-root', base],
    );
    workers.push({ ...place, host: 'test-host-c' });
    try {
      const { root, nb } = workspace(base);
      const res = await runCli(
        ['run', '--no-progress', '--server', serve?.url ?? '', '--workspace', root, nb],
        { env: { NBSTAGE_TOKEN: runToken, NBSTAGE_HOST_ID: 'test-host-c', WORKSPACE: '' } },
      );
      expect([res.code, res.stderr]).toEqual([0, expect.stringContaining('sent 0 new contents')]);
      // The kernel worked in the caller's own folder, and wrote there directly.
      expect(res.stdout).toContain(`cwd ${path.join(root, 'nb')}`);
      expect(res.stderr).toContain("ran in place on this host's worker: 1 outputs");
      expect(fs.readFileSync(path.join(root, 'result.txt'), 'utf8')).toBe('12');
      const runs = (await (
        await fetch(`${serve?.url ?? ''}/api/v1/runs`, {
          headers: { Authorization: `Bearer ${runToken}` },
        })
      ).json()) as ServiceRun[];
      const record = runs.find((r) => r.workspace?.inPlace === true);
      expect(record?.workerId).toBe(place.id);
      expect(record?.workspace?.outputs.map((o) => o.path)).toEqual(['result.txt']);
    } finally {
      // It would take the other tests' runs too.
      place.child.kill('SIGTERM');
      await new Promise((resolve) => place.child.on('exit', resolve));
    }
  });

  it('runs a run from a host without a worker on any worker', async () => {
    const { code, record, root } = await runFrom('test-host-elsewhere');
    expect(code).toBe(0);
    expect(record.host).toBeUndefined();
    expect(workers.map((w) => w.id)).toContain(record.workerId);
    expect(fs.readFileSync(path.join(root, 'result.txt'), 'utf8')).toBe('12');
  });
});
