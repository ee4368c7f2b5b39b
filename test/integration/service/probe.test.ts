/**
 * The red team's probe (test/helpers/probe.ts) submitted with a run token to a real `nbstage
 * serve`, embedded and with Redis and `nbstage worker` processes, while a victim's session run
 * prints its secret: nothing it prints (reversed, so masking cannot hide a leak) holds the admin
 * or Jenkins token, the secret key, the Redis password, a variable of the service's environment
 * or the victim's secret; the home (tokens.json, audit.log, history.git) and the victim's folder
 * are unreadable; it finds no connection file and reaches no kernel. From outside, no process of
 * the service has `token=` or a credential on its command line, and no kernel's environment
 * holds any of the service's.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Notebook } from '../../../pipelines/notebook/model';
import { fileTokenStore, tokensFile } from '../../../server/auth/tokens';
import { sessionFolder } from '../../../server/runs/run-job';
import { cellText, cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';
import { probeCell, reversed, victimCell } from '../../helpers/probe';
import { commandLine, descendants } from '../../helpers/processes';
import { startRedisServer, type RedisServer } from '../../helpers/redis';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';
import { startWorkerProcess, stopWorkerProcesses } from '../../helpers/worker-process';
import { gateFile } from '../../helpers/temp-dirs';
import { bearer, untilOutput } from './service-fixture';

/** What the service holds that no notebook may learn. */
interface Credentials {
  admin: string;
  jenkins: string;
  secretKey: string;
  /** A variable only the service's (and workers') environment has. */
  marker: string;
  redisPassword?: string;
}

function newCredentials(): Credentials {
  const value = (what: string): string => `${what}-${randomBytes(12).toString('hex')}`;
  return {
    admin: value('admin'),
    jenkins: value('jenkins'),
    secretKey: value('key'),
    marker: value('marker'),
  };
}

/** The environment of the service's processes. */
function serviceEnv(c: Credentials): NodeJS.ProcessEnv {
  return {
    NBSTAGE_ADMIN_TOKEN: c.admin,
    NBSTAGE_JENKINS_TOKEN: c.jenkins,
    NBSTAGE_SECRET_KEY: c.secretKey,
    NBSTAGE_TEST_SERVICE_MARKER: c.marker,
  };
}

/** Every process below `roots` (and they): pid, command line, environment where readable. */
function processTree(roots: number[]): { pid: number; cmdline: string; environ: string }[] {
  const environ = (pid: number): string => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  };
  const pids = [...new Set(roots.flatMap((root) => [root, ...descendants(root)]))];
  return pids.map((pid) => ({ pid, cmdline: commandLine(pid), environ: environ(pid) }));
}

/** One scenario: a service and the processes it runs on. */
interface Scenario {
  url: string;
  home: string;
  credentials: Credentials;
  /** The pids whose process trees are the service. */
  roots(): number[];
}

/** Submits a run; resolves to its id. */
async function submit(s: Scenario, token: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${s.url}/api/v1/runs`, {
    method: 'POST',
    headers: { Authorization: bearer(token), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { id: string };
  expect(res.status).toBe(201);
  return json.id;
}

/** Waits until run `id` has finished; resolves to its state and its executed notebook. */
async function finished(
  s: Scenario,
  token: string,
  id: string,
): Promise<{ state: string; nb: Notebook }> {
  const headers = { Authorization: bearer(token) };
  for (;;) {
    const run = (await (await fetch(`${s.url}/api/v1/runs/${id}`, { headers })).json()) as {
      state: string;
      finishedAt: string | null;
      versioned?: boolean;
    };
    if (run.finishedAt !== null) {
      const nb = (await (
        await fetch(`${s.url}/api/v1/runs/${id}/notebook`, { headers })
      ).json()) as Notebook;
      return { state: run.state, nb };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The probe beside a victim, and every check of the "Must show". */
async function probeAndCheck(s: Scenario): Promise<void> {
  const store = fileTokenStore(tokensFile(s.home));
  const victimToken = (await store.create({ role: 'run', name: `test-${randomUUID()}-victim` }))
    .token;
  const probeToken = (await store.create({ role: 'run', name: `test-${randomUUID()}-probe` }))
    .token;
  const victimSecret = `victim-${randomBytes(12).toString('hex')}`;
  const gate = gateFile();
  const session = `test-${randomUUID()}`;
  const victimId = await submit(s, victimToken, {
    notebook: makeNotebook([victimCell('VICTIM_KEY', gate)]),
    secrets: { VICTIM_KEY: victimSecret },
    session,
    job: `test-${randomUUID()}`,
  });
  try {
    await untilOutput(s.url, victimToken, victimId, 'victim ****');
    // The victim's kernel, from outside: its folder, and what its environment holds.
    const tree = processTree(s.roots());
    // A session's runs share a folder on their worker, named by a hash of the session.
    const folder = path.basename(sessionFolder('/', session));
    const bwrap = tree.find(
      (p) => p.cmdline.startsWith('bwrap') && p.cmdline.includes(`/${folder} --chdir`),
    );
    expect(bwrap).toBeDefined();
    const victimFolder = /--chdir (\S+)/.exec(bwrap?.cmdline ?? '')?.[1] ?? '';
    expect(victimFolder).toContain(folder);

    const probeId = await submit(s, probeToken, {
      notebook: makeNotebook([
        probeCell({
          unreadable: [
            path.join(s.home, 'tokens.json'),
            path.join(s.home, 'audit.log'),
            path.join(s.home, 'history.git'),
            s.home,
            victimFolder,
          ],
        }),
      ]),
      job: `test-${randomUUID()}`,
    });
    const probe = await finished(s, probeToken, probeId);
    expect(probe.state).toBe('completed');
    const text = cellText(probe.nb, 0);

    // It did look: at least its own processes' environments, and some sockets.
    expect(Number(/^environs-read (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^endpoints \d+$/m);
    const c = s.credentials;
    const forbidden = [c.admin, c.jenkins, c.secretKey, c.marker, victimSecret];
    if (c.redisPassword !== undefined) {
      forbidden.push(c.redisPassword);
    }
    for (const value of forbidden) {
      expect(text).not.toContain(reversed(value));
      expect(text).not.toContain(value);
    }
    const own = /^own-names (.*)$/m.exec(text)?.[1]?.split(' ') ?? [];
    expect(own).toContain('PATH');
    for (const name of [
      'NBSTAGE_ADMIN_TOKEN',
      'NBSTAGE_JENKINS_TOKEN',
      'NBSTAGE_SECRET_KEY',
      'NBSTAGE_TEST_SERVICE_MARKER',
      'NBSTAGE_REDIS',
    ]) {
      expect(own).not.toContain(name);
    }
    for (const target of ['tokens.json', 'audit.log', 'history.git']) {
      expect(text).toContain(`service-file ${path.join(s.home, target)} FileNotFoundError`);
    }
    expect(text).toContain(`service-file ${s.home} FileNotFoundError`);
    expect(text).toContain(`service-file ${victimFolder} FileNotFoundError`);
    expect(text).toContain('connection-files 0');
    expect(text).not.toContain(reversed('victim ****'));

    // From outside, every process of the service, kernels included, while both ran.
    const outside = processTree(s.roots());
    expect(outside.length).toBeGreaterThan(2);
    for (const p of outside) {
      expect(p.cmdline).not.toMatch(/token=/i);
      for (const value of forbidden) {
        expect(p.cmdline).not.toContain(value);
      }
    }
    const kernels = outside.filter((p) => p.cmdline.includes('ipykernel_launcher'));
    expect(kernels.length).toBeGreaterThanOrEqual(1);
    for (const kernel of kernels) {
      expect(kernel.environ).toContain('PATH=');
      for (const value of [
        c.admin,
        c.jenkins,
        c.secretKey,
        c.marker,
        c.redisPassword ?? c.marker,
      ]) {
        expect(kernel.environ).not.toContain(value);
      }
    }
  } finally {
    fs.writeFileSync(gate, '');
  }
  const victim = await finished(s, victimToken, victimId);
  expect(victim.state).toBe('completed');
  expect(cellText(victim.nb, 0)).not.toContain('reached by the probe');
}

describe('the probe on nbstage serve (embedded queue, sandboxed kernels)', () => {
  let serve: ServeProcess | undefined;
  const credentials = newCredentials();
  const home = tempDir();
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    cleanupDirs();
  });

  it('finds nothing of the service nor of the victim', async () => {
    serve = await startServeProcess(
      home,
      credentials.admin,
      ['--workers', '2'],
      serviceEnv(credentials),
    );
    const pid = serve.child.pid ?? 0;
    await probeAndCheck({ url: serve.url, home, credentials, roots: () => [pid] });
  }, 120_000);
});

describe('the probe on nbstage serve with Redis and nbstage worker processes', () => {
  let serve: ServeProcess | undefined;
  let redis: RedisServer | undefined;
  const workers: ChildProcess[] = [];
  const credentials = { ...newCredentials(), redisPassword: randomBytes(12).toString('hex') };
  const home = tempDir();
  afterAll(async () => {
    await stopWorkerProcesses(workers);
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await redis?.stop();
    cleanupDirs();
  });

  it('finds nothing of the service, its workers nor of the victim', async () => {
    redis = await startRedisServer({ password: credentials.redisPassword });
    // The Redis URL (with its password) in the environment, never on a command line.
    const env = { ...serviceEnv(credentials), NBSTAGE_REDIS: redis.url };
    serve = await startServeProcess(home, credentials.admin, ['--workers', '0'], env);
    workers.push((await startWorkerProcess(env)).child, (await startWorkerProcess(env)).child);
    const roots = [serve.child.pid ?? 0, ...workers.map((w) => w.pid ?? 0)];
    await probeAndCheck({ url: serve.url, home, credentials, roots: () => roots });
  }, 120_000);
});
