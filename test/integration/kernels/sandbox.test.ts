/**
 * Kernels in a bubblewrap sandbox, for real: an embedded run with `--sandbox required` reads and
 * writes its own folder, reaches the network, and sees neither a file beside it on the host nor
 * the host's processes; `--sandbox off` sees that file (explicitly: the default of embedded runs);
 * `required` without bubblewrap is exit 2 naming it, `auto` warns and runs. Under `nbstage serve`
 * (sandbox required) a run's kernel sees none of the service's home nor its admin token. A probe
 * beside a sandboxed victim hears the victim's outputs over TCP ports (which is why sandboxed
 * kernels talk over Unix sockets), and finds nothing of it over those.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parseSandboxBind, sandboxSupport, type SandboxBind } from '../../../kernels/zmq/sandbox';
import { ZmqKernelProvider } from '../../../kernels/zmq/zmq-provider';
import { executeRun, loadRun } from '../../../pipelines/runner';
import type { Notebook } from '../../../pipelines/notebook/model';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  tempDir,
  writeNotebook,
} from '../../helpers/notebooks';
import { probeCell, reversed, victimCell } from '../../helpers/probe';
import { gateFile } from '../../helpers/temp-dirs';
import { bearer, settled, useService } from '../service/service-fixture';

/** Python: `can_read(path)` says "readable" or the name of the error reading it raised. */
const CAN_READ = [
  'def can_read(p):',
  '    try:',
  '        open(p).read()',
  '        return "readable"',
  '    except OSError as e:',
  '        return type(e).__name__',
].join('\n');

/** A cell that says what it can reach, each finding on a line of its own. */
function probe(outside: string, port: number): string {
  return [
    'import os, socket',
    CAN_READ,
    `print("outside", can_read(${JSON.stringify(outside)}))`,
    'open("made-inside.txt", "w").write("from the kernel")',
    'print("inside", can_read("made-inside.txt"))',
    `s = socket.create_connection(("127.0.0.1", ${port}), timeout=5)`,
    'print("network", s.recv(16).decode())',
    's.close()',
    `print("host pid visible", os.path.exists("/proc/${process.pid}"))`,
    'print("home", os.environ.get("HOME"))',
  ].join('\n');
}

describe('kernels in a sandbox (bubblewrap)', () => {
  let server: net.Server;
  let port = 0;
  beforeAll(async () => {
    expect(sandboxSupport()).toMatchObject({ available: true });
    server = net.createServer((socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    cleanupDirs();
  });

  const env = { NBSTAGE_JUPYTER_URL: '' };

  it('--sandbox required: its own folder and the network, nothing else of the host', async () => {
    const outside = path.join(tempDir(), 'service-secret.txt');
    fs.writeFileSync(outside, 'do not read');
    const file = writeNotebook(makeNotebook([probe(outside, port)]));
    const res = await runCli(['run', '--no-progress', '--sandbox', 'required', file], { env });
    expect([res.code, res.stderr]).toEqual([0, expect.any(String)]);
    const text = cellText(readJson<Notebook>(file.replace('.ipynb', '.executed.ipynb')), 0);
    expect(text).toContain('outside FileNotFoundError');
    expect(text).toContain('inside readable');
    expect(text).toContain('network hello');
    expect(text).toContain('host pid visible False');
    expect(text).toContain('home /tmp/home');
    expect(fs.readFileSync(path.join(path.dirname(file), 'made-inside.txt'), 'utf8')).toBe(
      'from the kernel',
    );
  });

  it('--sandbox off (the embedded default, given explicitly): the kernel sees the host', async () => {
    const outside = path.join(tempDir(), 'beside.txt');
    fs.writeFileSync(outside, 'readable');
    const file = writeNotebook(makeNotebook([probe(outside, port)]));
    const res = await runCli(['run', '--no-progress', '--sandbox', 'off', file], { env });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('outside readable');
    expect(res.stdout).toContain(`home ${os.homedir()}`);
  });

  it('required without bubblewrap is exit 2 naming it; auto warns and runs unsandboxed', async () => {
    const file = writeNotebook(makeNotebook(['print("ran")']));
    const noBwrap = { ...env, NBSTAGE_BWRAP: '/nonexistent/bwrap' };
    const required = await runCli(['run', '--no-progress', '--sandbox', 'required', file], {
      env: noBwrap,
    });
    expect(required.code).toBe(2);
    expect(required.stderr).toContain(
      '--sandbox required: kernels cannot be sandboxed: /nonexistent/bwrap is not installed',
    );
    const auto = await runCli(['run', '--no-progress', '--sandbox', 'auto', file], {
      env: noBwrap,
    });
    expect(auto.code).toBe(0);
    expect(auto.stdout).toContain('ran');
    expect(auto.stderr).toContain('warning: kernels are NOT sandboxed');
  });

  it('a bad --sandbox or --sandbox-bind is exit 2 naming it', async () => {
    const file = writeNotebook(makeNotebook(['1']));
    const mode = await runCli(['run', '--sandbox', 'maybe', file], { env });
    expect([mode.code, mode.stderr]).toEqual([
      2,
      expect.stringContaining('--sandbox must be one of auto, required, off, not "maybe"'),
    ]);
    const bind = await runCli(['run', '--sandbox', 'required', '--sandbox-bind', 'data', file], {
      env,
    });
    expect([bind.code, bind.stderr]).toEqual([
      2,
      expect.stringContaining('--sandbox-bind needs an absolute path, not "data"'),
    ]);
  });

  it('nbstage doctor says whether kernels are sandboxed, and why not', async () => {
    type Row = { name: string; status: string; value: string };
    const rows = async (extra: NodeJS.ProcessEnv): Promise<Row | undefined> => {
      const res = await runCli(['doctor', '--json'], { env: { ...env, ...extra } });
      return (JSON.parse(res.stdout) as { checks: Row[] }).checks.find((c) => c.name === 'sandbox');
    };
    expect(await rows({})).toMatchObject({ status: 'ok', value: expect.stringContaining('bwrap') });
    expect(await rows({ NBSTAGE_BWRAP: '/nonexistent/bwrap' })).toEqual({
      name: 'sandbox',
      status: 'optional',
      value: expect.stringContaining(
        'kernels are NOT sandboxed: /nonexistent/bwrap is not installed',
      ),
      fix: expect.stringContaining('apt-get install bubblewrap'),
    });
  });

  it('--sandbox-bind PATH:ro shows a dataset folder read-only', async () => {
    const data = tempDir();
    fs.writeFileSync(path.join(data, 'rows.csv'), 'a,b\n1,2\n');
    const file = writeNotebook(
      makeNotebook([
        `print(open(${JSON.stringify(path.join(data, 'rows.csv'))}).read().splitlines()[1])\n` +
          'try:\n' +
          `    open(${JSON.stringify(path.join(data, 'new.csv'))}, "w")\n` +
          'except OSError as e:\n' +
          '    print("write", type(e).__name__)',
      ]),
    );
    const res = await runCli(
      ['run', '--no-progress', '--sandbox', 'required', '--sandbox-bind', `${data}:ro`, file],
      { env },
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('1,2');
    expect(res.stdout).toMatch(/write (OSError|PermissionError)/);
    expect(fs.existsSync(path.join(data, 'new.csv'))).toBe(false);
  });
});

describe('device nodes in a sandbox (what a GPU lease adds)', () => {
  afterAll(() => cleanupDirs());

  it('a sandboxed kernel sees the device nodes it is given, and no others', async () => {
    const support = sandboxSupport();
    const provider = new ZmqKernelProvider({
      kernel: { sandbox: { bwrap: support.bwrap, binds: [] } },
    });
    const seen = async (devices: string[]): Promise<string> => {
      const nb = writeNotebook(
        makeNotebook(['import os\nprint("fuse", os.path.exists("/dev/fuse"))']),
      );
      const run = await loadRun({ notebookPath: nb, kernelDevices: devices });
      const result = await executeRun(run, provider);
      return cellText(result.notebook, 0);
    };
    try {
      // /dev/fuse stands in for /dev/nvidia0 on a host without a GPU: bwrap's own /dev has neither.
      expect(await seen(['/dev/fuse', '/dev/nvidia-uvm'])).toBe('fuse True\n');
      expect(await seen([])).toBe('fuse False\n');
    } finally {
      await provider.close();
    }
  });
});

describe('kernels of nbstage serve --sandbox required', () => {
  const t = useService({ sandbox: 'required', workers: 1 });
  afterAll(() => cleanupDirs());

  it("see neither the service's home nor its environment", async () => {
    const { home } = t();
    const cell = [
      'import os',
      CAN_READ,
      `print("tokens", can_read(${JSON.stringify(path.join(home, 'tokens.json'))}))`,
      `print("home listed", os.path.isdir(${JSON.stringify(home)}))`,
      // Reversed, so that masking cannot hide a leak.
      'print("admin", (os.environ.get("NBSTAGE_ADMIN_TOKEN") or "none")[::-1])',
    ].join('\n');
    const res = await request(t().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(t().run))
      .send({ notebook: makeNotebook([cell]) });
    expect(res.status).toBe(201);
    const run = await settled(t(), res.body.id as string);
    expect(run.state).toBe('completed');
    const nb = await request(t().url)
      .get(`/api/v1/runs/${res.body.id as string}/notebook`)
      .set('Authorization', bearer(t().run));
    const text = cellText(nb.body as Notebook, 0);
    expect(text).toContain('tokens FileNotFoundError');
    expect(text).toContain('home listed False');
    expect(text).toContain('admin enon');
    expect(text).not.toContain(t().admin.split('').reverse().join(''));
  });
});

/** The binds the suite gives every sandbox (NBSTAGE_SANDBOX_BIND, set by the global setup). */
function suiteBinds(): SandboxBind[] {
  return (process.env.NBSTAGE_SANDBOX_BIND ?? '').split(',').filter(Boolean).map(parseSandboxBind);
}

describe('sandboxed kernels cannot reach each other', () => {
  afterAll(() => cleanupDirs());

  /**
   * Runs a victim (printing its secret until its gate opens) and, beside it, the probe, both
   * sandboxed with `transport`; resolves to what the probe printed and what the victim did.
   */
  async function probeBeside(transport: 'tcp' | 'ipc'): Promise<{
    probe: string;
    victim: string;
    secret: string;
  }> {
    const support = sandboxSupport();
    const sandboxed = (): ZmqKernelProvider =>
      new ZmqKernelProvider({
        // The gates folder: the victim waits for its gate.
        kernel: { sandbox: { bwrap: support.bwrap, binds: suiteBinds(), transport } },
      });
    const providers = [sandboxed(), sandboxed()];
    const secret = `victim-${randomUUID()}`;
    const gate = gateFile();
    try {
      const victimRun = await loadRun({
        notebookPath: writeNotebook(makeNotebook([victimCell('VICTIM_KEY', gate)])),
        secrets: { VICTIM_KEY: secret },
      });
      const victim = executeRun(victimRun, providers[0]);
      const probeRun = await loadRun({
        notebookPath: writeNotebook(makeNotebook([probeCell({ unreadable: [] })])),
      });
      const probe = await executeRun(probeRun, providers[1]);
      fs.writeFileSync(gate, '');
      const done = await victim;
      return {
        probe: cellText(probe.notebook, 0),
        victim: cellText(done.notebook, 0),
        secret,
      };
    } finally {
      fs.writeFileSync(gate, '');
      await Promise.all(providers.map((p) => p.close()));
    }
  }

  it('over TCP (NBSTAGE_SANDBOX_TRANSPORT=tcp) a probe hears a sibling kernel: the probe works', async () => {
    const { probe, victim, secret } = await probeBeside('tcp');
    expect(victim).toContain('victim ****');
    expect(probe).toContain(reversed(secret));
    // It cannot drive it: its execute_request is not signed with the kernel's key.
    expect(victim).not.toContain('reached by the probe');
  });

  it('over Unix sockets (the default) the probe finds nothing of the sibling', async () => {
    const { probe, victim, secret } = await probeBeside('ipc');
    expect(victim).toContain('victim ****');
    expect(victim).not.toContain('reached by the probe');
    expect(probe).toMatch(/^endpoints [1-9]/m);
    expect(probe).toContain('connection-files 0');
    expect(probe).not.toContain(reversed(secret));
    expect(probe).not.toContain(secret);
  });
});
