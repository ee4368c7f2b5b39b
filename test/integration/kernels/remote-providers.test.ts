/**
 * `nbstage run` on kernels of a remote provider (NBSTAGE_JUPYTER_URL), for each of a real
 * jupyter_server, a real Jupyter Kernel Gateway and a real Enterprise Gateway started by the
 * tests: the engine's essential cases keep their exit codes and partial notebooks (outputs 0,
 * a cell error 1, --cell-timeout 3, a kernel death 4, SIGTERM 130), secrets stay masked, the
 * caller's KERNEL_* variables reach the kernel (KERNEL_USERNAME defaulting to the OS user), and
 * sessions carry kernel state from run to run, by kernel id on the gateways, which have no
 * sessions API. Enterprise Gateway's refusal of a user shows its own reason (exit 5).
 */
import os from 'node:os';
import type { JupyterEndpoint } from '../../../kernels/endpoint';
import { SessionKernelIndex } from '../../../kernels/gateway';
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';
import { startGateway, type Gateway } from '../../helpers/gateways';
import { useJupyterServer } from '../../helpers/jupyter';
import {
  cellText,
  cleanupDirs,
  makeNotebook,
  readJson,
  runCli,
  signalOnOutput,
  tempDir,
  writeNotebook,
  type CliResult,
} from '../../helpers/notebooks';

/** Where each provider comes from: started before the block's tests, stopped after. */
const PROVIDERS: [string, () => { endpoint: () => JupyterEndpoint; stop: () => Promise<void> }][] =
  [
    [
      'a Jupyter server',
      () => {
        const server = useJupyterServer();
        return { endpoint: () => server().endpoint, stop: () => Promise.resolve() };
      },
    ],
    ['Jupyter Kernel Gateway', () => gatewayFixture('kernel-gateway')],
    ['Jupyter Enterprise Gateway', () => gatewayFixture('enterprise-gateway')],
  ];

/** A user the Enterprise Gateway of these tests refuses kernels to. */
const REFUSED_USER = 'nbstage-refused';

function gatewayFixture(kind: 'kernel-gateway' | 'enterprise-gateway'): {
  endpoint: () => JupyterEndpoint;
  stop: () => Promise<void>;
} {
  let gateway: Gateway | null = null;
  beforeAll(async () => {
    gateway = await startGateway(kind, { unauthorizedUsers: [REFUSED_USER] });
  }, 90_000);
  return {
    endpoint: () => {
      if (gateway === null) {
        throw new Error(`${kind} not started`);
      }
      return gateway.endpoint;
    },
    stop: async () => {
      await gateway?.stop();
    },
  };
}

describe.each(PROVIDERS)('nbstage run on %s', (label, fixture) => {
  const provider = fixture();
  const runtimeDir = tempDir();
  afterAll(async () => {
    await provider.stop();
    cleanupDirs();
  }, 30_000);

  const run = (
    args: string[],
    options: {
      env?: NodeJS.ProcessEnv;
      onStdout?: ReturnType<typeof signalOnOutput>['onStdout'];
    } = {},
  ): Promise<CliResult> =>
    runCli(['run', '--no-progress', ...args], {
      env: {
        NBSTAGE_JUPYTER_URL: provider.endpoint().baseUrl,
        NBSTAGE_JUPYTER_TOKEN: provider.endpoint().token,
        NBSTAGE_RUNTIME_DIR: runtimeDir,
        ...options.env,
      },
      onStdout: options.onStdout,
    });
  const executed = (file: string): Notebook =>
    readJson<Notebook>(file.replace(/\.ipynb$/, '.executed.ipynb'));

  it('outputs, exit 0: streams, display data, results; secrets masked; KERNEL_* sent', async () => {
    const file = writeNotebook(
      makeNotebook([
        'import os, sys\nprint("hello")\nprint("warn", file=sys.stderr)',
        'from IPython.display import display, Markdown\ndisplay(Markdown("**m**"))\n6 * 7',
        'key = os.environ["API_KEY"]\nprint(key[:4], end="", flush=True)\nprint(key[4:])',
        'print("user", os.environ.get("KERNEL_USERNAME"), os.environ.get("KERNEL_FLAVOUR"))',
      ]),
    );
    const res = await run([file, '--secret', 'API_KEY=s3cr3t-value-9'], {
      env: { KERNEL_FLAVOUR: 'mint' },
    });
    expect([res.code, res.stderr]).toEqual([0, expect.stringContaining('warn')]);
    expect(res.stdout).toContain('hello');
    expect(res.stdout).toContain('42');
    expect(res.stdout).not.toContain('s3cr3t');
    const out = executed(file);
    expect(JSON.stringify(out)).not.toContain('s3cr3t');
    expect(cellText(out, 2)).toBe('****\n');
    const sent = cellText(out, 3);
    // The gateways hand the request's KERNEL_* variables to the kernel; jupyter_server ignores them.
    if (label === 'a Jupyter server') {
      expect(sent).toMatch(/^user /);
    } else {
      expect(sent).toBe(`user ${os.userInfo().username} mint\n`);
    }
  });

  it('a cell error: exit 1, the rest not run, the traceback kept', async () => {
    const file = writeNotebook(makeNotebook(['print("a")', '1 / 0', 'print("never")']));
    const res = await run([file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('ZeroDivisionError');
    const out = executed(file);
    expect(cellText(out, 0)).toBe('a\n');
    expect((out.cells[1] as CodeCell).outputs[0]).toMatchObject({ ename: 'ZeroDivisionError' });
    expect((out.cells[2] as CodeCell).execution_count).toBeNull();
  });

  it('--cell-timeout: exit 3 naming the cell, the partial notebook kept', async () => {
    const file = writeNotebook(
      makeNotebook(['print("first")', 'import time\nprint("waiting", flush=True)\ntime.sleep(60)']),
    );
    const res = await run([file, '--cell-timeout', '2']);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/cell 1 .*2 s|timed out.*cell 1/);
    const out = executed(file);
    expect(cellText(out, 0)).toBe('first\n');
    expect(cellText(out, 1)).toContain('waiting');
    expect(out.metadata.nbstage).toMatchObject({ status: 'timeout' });
  });

  it('a kernel death: exit 4, blamed on the cell that killed it', async () => {
    // The cell dies a moment after it starts, as real kernels do: a kill within microseconds
    // of the previous reply can take that reply with it, unsent (see cli/run.test.ts).
    const file = writeNotebook(
      makeNotebook(['print("a")', 'import os, time\ntime.sleep(0.2)\nos._exit(1)', '1']),
    );
    const res = await run([file]);
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/kernel python3 died in cell 1/);
    const out = executed(file);
    expect(cellText(out, 0)).toBe('a\n');
    expect(out.metadata.nbstage).toMatchObject({ status: 'kernel_died' });
  });

  it('SIGTERM during a long cell: exit 130 within 5 s, the partial notebook kept', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print("step one", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(60)',
      ]),
    );
    const sigterm = signalOnOutput(/sleeping/, 'SIGTERM');
    const res = await run([file], { onStdout: sigterm.onStdout });
    expect(res.code).toBe(130);
    expect(Date.now() - sigterm.sentAt()).toBeLessThan(5000);
    const out = executed(file);
    expect(cellText(out, 0)).toBe('step one\n');
    expect(cellText(out, 1)).toContain('sleeping');
    expect(out.metadata.nbstage).toMatchObject({ status: 'cancelled' });
  });

  it('a --session carries kernel state from stage to stage across runs', async () => {
    const file = writeNotebook(
      makeNotebook([
        'print("preamble ran")',
        { source: 'x = 41', tags: ['stage:prepare'] },
        { source: 'print("x + 1 =", x + 1)', tags: ['stage:train'] },
      ]),
    );
    const session = `s-${Math.random().toString(36).slice(2)}`;
    const first = await run([file, '--stage', 'prepare', '--session', session]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('preamble ran');
    const second = await run([file, '--stage', 'train', '--session', session]);
    expect([second.code, second.stderr]).toEqual([0, expect.any(String)]);
    expect(second.stdout).toContain('x + 1 = 42');
    expect(second.stdout).not.toContain('preamble ran');
    const other = await run([file, '--stage', 'train', '--session', `${session}-b`]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('NameError');
    // The gateways answer 403 to api/sessions: their sessions were kept by kernel id, here.
    const byId = new SessionKernelIndex(runtimeDir, provider.endpoint().baseUrl).get(session);
    if (label === 'a Jupyter server') {
      expect(byId).toBeNull();
    } else {
      expect(byId).toEqual({ kernelId: expect.any(String), name: 'python3', session });
    }
  });

  if (label === 'Jupyter Enterprise Gateway') {
    it("a refused user: exit 5 with the gateway's own reason", async () => {
      const file = writeNotebook(makeNotebook(['1']));
      const res = await run([file], { env: { KERNEL_USERNAME: REFUSED_USER } });
      expect(res.code).toBe(5);
      expect(res.stderr).toContain(
        `Jupyter server answered 403 starting kernel "python3": User '${REFUSED_USER}' is not authorized`,
      );
    });
  }
});
