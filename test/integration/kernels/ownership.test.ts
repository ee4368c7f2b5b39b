/**
 * Nothing nbstage starts outlives what it serves, with real processes: a notebook's background
 * processes end with its run (python and bash kernels), also when the run is SIGKILLed; the
 * shared Jupyter server does not depend on the folder of the run that started it, and ends the
 * kernel of a SIGKILLed run; SIGKILL of `nbstage serve` or of `nbstage worker` (what the OOM
 * killer does) leaves none of their children running 20 s later; and when a kernel under
 * `nbstage serve` is SIGKILLed, its run ends `kernel_died` saying so, with its partial notebook
 * versioned, and the runs queued behind it go on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { stopSharedServer } from '../../../kernels/shared-server';
import type { ServiceRun } from '../../../server/runs/service-run';
import { cleanupDirs, makeNotebook, runCli, tempDir, writeNotebook } from '../../helpers/notebooks';
import {
  commandLine,
  descendants,
  killAll,
  processesWithArgs,
  survivors,
} from '../../helpers/processes';
import { useRedisServer } from '../../helpers/redis';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';
import { bearer, untilOutput } from '../service/service-fixture';

const BIN = path.resolve(__dirname, '../../../bin/nbstage.js');

/** A unique `sleep` duration: its command line finds the process wherever it runs. */
function sleepMark(): string {
  return `${300 + Math.floor(Math.random() * 600)}.${randomBytes(3).readUIntBE(0, 3)}`;
}

/** A python cell that leaves two processes behind, in new sessions, and says they run. */
function pythonBackground(mark: string): string {
  return [
    'import os, subprocess',
    `p = subprocess.Popen(["sleep", "${mark}"], start_new_session=True)`,
    `os.system("nohup sleep ${mark} >/dev/null 2>&1 &")`,
    'os.kill(p.pid, 0)',
    'print("background running", flush=True)',
  ].join('\n');
}

async function gone(mark: string, ms: number): Promise<string[]> {
  return survivors(processesWithArgs(mark), ms);
}

describe('a run ends what its notebook started', () => {
  const leftovers: number[] = [];
  afterAll(() => {
    killAll(leftovers);
    cleanupDirs();
  });

  it('python kernel: Popen(start_new_session=True) and nohup ... & are gone after the run', async () => {
    const mark = sleepMark();
    const nb = writeNotebook(makeNotebook([pythonBackground(mark)]));
    const res = await runCli(['run', nb, '-o', path.join(path.dirname(nb), 'out.ipynb')], {
      env: { NBSTAGE_JUPYTER_URL: '' },
    });
    expect(res.stdout).toContain('completed');
    expect(res.stdout).toContain('background running');
    expect(res.code).toBe(0);
    expect(await gone(mark, 5000)).toEqual([]);
  });

  it('bash kernel: nohup ... & and setsid ... & are gone after the run', async () => {
    const mark = sleepMark();
    const nb = writeNotebook(
      makeNotebook(
        [
          `nohup sleep ${mark} >/dev/null 2>&1 &\nsetsid sleep ${mark} >/dev/null 2>&1 &\nsleep 0.2; pgrep -c -f "sleep ${mark}"`,
        ],
        'bash',
      ),
    );
    const res = await runCli(['run', nb, '-o', path.join(path.dirname(nb), 'out.ipynb')], {
      env: { NBSTAGE_JUPYTER_URL: '' },
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^2$/m);
    expect(await gone(mark, 5000)).toEqual([]);
  });

  it('a SIGKILLed run: its kernel and background processes are gone 20 s later, no key left', async () => {
    const mark = sleepMark();
    const runtimeDir = tempDir();
    const nb = writeNotebook(
      makeNotebook([
        pythonBackground(mark),
        'import time\nprint("sleeping", flush=True)\ntime.sleep(120)\nprint("never")',
      ]),
    );
    let tree: number[] = [];
    let commands = '';
    let background = 0;
    const res = await runCli(['run', nb, '--no-progress'], {
      env: { NBSTAGE_JUPYTER_URL: '', NBSTAGE_RUNTIME_DIR: runtimeDir, TMPDIR: runtimeDir },
      onStdout: (chunk, child) => {
        if (chunk.includes('sleeping') && tree.length === 0) {
          tree = descendants(child.pid ?? 0);
          commands = tree.map(commandLine).join('\n');
          background = processesWithArgs(mark).length;
          child.kill('SIGKILL');
        }
      },
    });
    expect(res.signal).toBe('SIGKILL');
    leftovers.push(...tree);
    expect(commands).toMatch(/nbstage_init -- .*ipykernel_launcher/);
    expect(background).toBe(2);
    expect(await survivors(tree, 20000)).toEqual([]);
    expect(await gone(mark, 1000)).toEqual([]);
    // The connection file (the kernel's key) went once the kernel was ready.
    expect(fs.readdirSync(runtimeDir).filter((f) => f.startsWith('nbstage-kernel-'))).toEqual([]);
  }, 60000);
});

describe('the shared Jupyter server and the folder it was started from', () => {
  const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-runtime-'));
  const env = {
    NBSTAGE_JUPYTER_URL: '',
    NBSTAGE_RUNTIME_DIR: runtimeDir,
    NBSTAGE_REUSE_SERVER: '1',
  };
  afterAll(async () => {
    await stopSharedServer({ runtimeDir });
    fs.rmSync(runtimeDir, { recursive: true, force: true });
    cleanupDirs();
  });

  it('serves three more runs after the first run folder is deleted', async () => {
    const first = fs.mkdtempSync(path.join(os.tmpdir(), 'test-deleted-'));
    const nb = writeNotebook(
      makeNotebook(['import os\nprint("cwd", os.getcwd())']),
      'a.ipynb',
      first,
    );
    const started = await runCli(['run', 'a.ipynb'], { cwd: first, env });
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(`cwd ${fs.realpathSync(first)}`);
    fs.rmSync(first, { recursive: true, force: true });
    expect(fs.existsSync(nb)).toBe(false);
    const elsewhere = tempDir();
    const other = writeNotebook(makeNotebook(['print("still fine")']), 'b.ipynb', elsewhere);
    for (let i = 0; i < 3; i++) {
      const res = await runCli(['run', other], { cwd: elsewhere, env });
      expect([res.code, res.stdout]).toEqual([0, expect.stringContaining('completed')]);
      expect(res.stdout).toContain('still fine');
    }
  }, 120000);

  it("ends a SIGKILLed run's kernel and its background processes, and lives on", async () => {
    const mark = sleepMark();
    const nb = writeNotebook(
      makeNotebook([
        pythonBackground(mark),
        'import time\nprint("sleeping", flush=True)\ntime.sleep(120)\nprint("never")',
      ]),
    );
    let killed = false;
    const res = await runCli(['run', nb, '--no-progress'], {
      env,
      onStdout: (chunk, child) => {
        if (chunk.includes('sleeping') && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    expect(res.signal).toBe('SIGKILL');
    const state = fs.readdirSync(runtimeDir).find((f) => /^jupyter-.*\.json$/.test(f));
    const server = (
      JSON.parse(fs.readFileSync(path.join(runtimeDir, state ?? ''), 'utf8')) as {
        pid: number;
      }
    ).pid;
    expect(await gone(mark, 20000)).toEqual([]);
    const kernels = (): string[] =>
      descendants(server)
        .map(commandLine)
        .filter((args) => args.includes('ipykernel') && !args.includes('nbstage_init'));
    // Only the spare kernel it keeps warm is left.
    for (let i = 0; i < 100 && kernels().length > 1; i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(kernels().length).toBeLessThanOrEqual(1);
    const after = await runCli(['run', writeNotebook(makeNotebook(['print("next")']))], { env });
    expect([after.code, after.stdout]).toEqual([0, expect.stringContaining('next')]);
  }, 120000);
});

describe('nbstage serve and nbstage worker, SIGKILLed mid-run', () => {
  const admin = `test-${randomUUID()}`;
  const leftovers: number[] = [];
  afterAll(() => {
    killAll(leftovers);
    cleanupDirs();
  });

  async function sleepingRun(url: string, mark: string, job: string): Promise<string> {
    const res = await request(url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(admin))
      .send({
        notebook: makeNotebook([
          pythonBackground(mark),
          'import time\nprint("sleeping", flush=True)\ntime.sleep(120)\nprint("never")',
        ]),
        job,
        build: '1',
      });
    expect(res.status).toBe(201);
    await untilOutput(url, admin, res.body.id as string, 'sleeping');
    return res.body.id as string;
  }

  it('serve: its kernels and their background processes are gone 20 s later', async () => {
    const serve = await startServeProcess(tempDir(), admin, ['--workers', '1']);
    const mark = sleepMark();
    await sleepingRun(serve.url, mark, `test-${randomUUID()}/sigkill`);
    const tree = descendants(serve.child.pid ?? 0);
    leftovers.push(...tree);
    expect(tree.map(commandLine).join('\n')).toMatch(/nbstage_init -- .*ipykernel_launcher/);
    expect(processesWithArgs(mark).length).toBe(2);
    serve.child.kill('SIGKILL');
    await serve.exited;
    expect(await survivors(tree, 20000)).toEqual([]);
    expect(await gone(mark, 1000)).toEqual([]);
  }, 120000);

  describe('worker', () => {
    const redis = useRedisServer();

    it('its kernels and their background processes are gone 20 s later', async () => {
      const serve = await startServeProcess(tempDir(), admin, [
        '--workers',
        '0',
        '--redis',
        redis().url,
      ]);
      const worker: ChildProcess = spawn(
        process.execPath,
        [BIN, 'worker', '--redis', redis().url, '--concurrency', '1'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          let err = '';
          worker.stderr?.on('data', (d: Buffer) => {
            err += d.toString();
            if (/worker \S+ ready/.test(err)) {
              resolve();
            }
          });
          worker.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
        });
        const mark = sleepMark();
        await sleepingRun(serve.url, mark, `test-${randomUUID()}/worker-sigkill`);
        const tree = descendants(worker.pid ?? 0);
        leftovers.push(...tree);
        expect(tree.map(commandLine).join('\n')).toMatch(/nbstage_init -- .*ipykernel_launcher/);
        expect(processesWithArgs(mark).length).toBe(2);
        worker.kill('SIGKILL');
        expect(await survivors(tree, 20000)).toEqual([]);
        expect(await gone(mark, 1000)).toEqual([]);
      } finally {
        worker.kill('SIGKILL');
        serve.child.kill('SIGTERM');
        await serve.exited;
      }
    }, 120000);
  });
});

describe('a kernel under nbstage serve is SIGKILLed (the OOM killer)', () => {
  const admin = `test-${randomUUID()}`;
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await startServeProcess(tempDir(), admin, ['--workers', '1']);
  });
  afterAll(async () => {
    if (serve.child.exitCode === null) {
      serve.child.kill('SIGKILL');
    }
    cleanupDirs();
  });

  const get = (route: string): request.Test =>
    request(serve.url).get(route).set('Authorization', bearer(admin));

  async function finished(id: string): Promise<ServiceRun> {
    for (;;) {
      const res = await get(`/api/v1/runs/${id}`);
      if ((res.body as ServiceRun).version !== null) {
        return res.body as ServiceRun;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('ends its run kernel_died saying how, with the partial notebook versioned; the next runs go on', async () => {
    const job = `test-${randomUUID()}/kernel-death`;
    const post = (cells: string[], build: string): request.Test =>
      request(serve.url)
        .post('/api/v1/runs')
        .set('Authorization', bearer(admin))
        .send({ notebook: makeNotebook(cells), job, build });
    const doomed = await post(
      [
        'print("before", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(120)',
      ],
      '1',
    );
    expect(doomed.status).toBe(201);
    const queued = await post(['print("queued behind it")'], '2');
    await untilOutput(serve.url, admin, doomed.body.id as string, 'sleeping');
    // The kernel running the cell (the warm spare is idle beside it).
    const busy = descendants(serve.child.pid ?? 0).filter((pid) =>
      /^\S*python\S* -m ipykernel_launcher/.test(commandLine(pid)),
    );
    expect(busy.length).toBeGreaterThanOrEqual(1);
    const sleeping = busy.find((pid) =>
      fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('hrtimer'),
    );
    process.kill(sleeping ?? busy[0], 'SIGKILL');

    const record = await finished(doomed.body.id as string);
    expect(record).toMatchObject({
      state: 'kernel_died',
      error: {
        message: expect.stringMatching(
          /kernel python3 was killed by SIGKILL during cell 1 \(peak /,
        ),
      },
      version: { commit: expect.stringMatching(/^[0-9a-f]{40}$/) },
    });
    const partial = await get(`/api/v1/runs/${doomed.body.id}/notebook`);
    expect(JSON.stringify(partial.body)).toContain('sleeping');
    expect((await request(serve.url).get('/readyz')).status).toBe(200);
    expect(await finished(queued.body.id as string)).toMatchObject({ state: 'completed' });
    const after = await post(['print("after the death")'], '3');
    expect(await finished(after.body.id as string)).toMatchObject({ state: 'completed' });
  }, 120000);

  it('stops on SIGTERM, leaving nothing running', async () => {
    const tree = descendants(serve.child.pid ?? 0);
    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
    expect(await survivors(tree, 10000)).toEqual([]);
  }, 60000);
});
