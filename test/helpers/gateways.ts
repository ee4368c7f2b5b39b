/**
 * Real Jupyter Kernel Gateway (from .venv) and Enterprise Gateway (from .venv-eg, which
 * `scripts/setup.sh --test` makes), started on a free port with a random token, in their own
 * folders; `useGateway()` starts one per describe block and stops it, with its kernels, after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JupyterEndpoint } from '../../kernels/endpoint';
import { freePort } from '../../kernels/jupyter-server';
import { jupyterRequest } from '../../kernels/jupyter-rest';
import { packageRoot } from '../../kernels/python-env';
import { descendants, survivors } from './processes';
import { tempDir } from './temp-dirs';

/** Which gateway. */
export type GatewayKind = 'kernel-gateway' | 'enterprise-gateway';

/** A running gateway. */
export interface Gateway {
  endpoint: JupyterEndpoint;
  /** What it printed (for a failing test's message). */
  log(): string;
  /** Stops it (SIGTERM: it shuts its kernels down) and waits until none of its processes is left. */
  stop(): Promise<void>;
}

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** Enterprise Gateway: users it refuses kernels to (default: none). */
  unauthorizedUsers?: string[];
}

function command(
  kind: GatewayKind,
  port: number,
  token: string,
  options: GatewayOptions,
): string[] {
  const root = packageRoot();
  if (kind === 'kernel-gateway') {
    return [
      path.join(root, '.venv', 'bin', 'jupyter'),
      'kernelgateway',
      '--KernelGatewayApp.ip=127.0.0.1',
      `--KernelGatewayApp.port=${port}`,
      `--KernelGatewayApp.auth_token=${token}`,
    ];
  }
  const users = (options.unauthorizedUsers ?? []).map((u) => `'${u}'`).join(',');
  return [
    path.join(root, '.venv-eg', 'bin', 'jupyter'),
    'enterprisegateway',
    '--EnterpriseGatewayApp.ip=127.0.0.1',
    `--EnterpriseGatewayApp.port=${port}`,
    `--EnterpriseGatewayApp.auth_token=${token}`,
    `--EnterpriseGatewayApp.unauthorized_users={${users}}`,
  ];
}

/** Starts a gateway and resolves once its REST API answers with its token (60 s at most). */
export async function startGateway(
  kind: GatewayKind,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const [bin, ...args] = command(kind, port, token, options);
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: run scripts/setup.sh --test (it installs the gateways)`);
  }
  const dir = tempDir();
  const child: ChildProcess = spawn(bin, args, {
    cwd: dir,
    env: { ...process.env, JUPYTER_RUNTIME_DIR: dir, JUPYTER_DATA_DIR: path.join(dir, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint: JupyterEndpoint = { baseUrl: `http://127.0.0.1:${port}/`, token };
  const deadline = Date.now() + 60_000;
  // The gateways have no api/status: the kernelspecs answer once the API (and the token) works.
  const answers = (): Promise<boolean> =>
    jupyterRequest(endpoint, 'GET', 'api/kernelspecs', { timeoutMs: 1000 }).then(
      async (res) => {
        await res.body?.cancel();
        return true;
      },
      () => false,
    );
  while (!(await answers())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${kind} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopped: Promise<void> | null = null;
  return {
    endpoint,
    log: () => output,
    stop: () => {
      stopped ??= (async () => {
        const tree = descendants(child.pid ?? 0);
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        const left = await survivors(tree, 10_000);
        if (left.length > 0) {
          throw new Error(`${kind} left processes running: ${left.join('; ')}`);
        }
      })();
      return stopped;
    },
  };
}

/** Starts a gateway before the tests of the enclosing block and stops it after. */
export function useGateway(kind: GatewayKind, options: GatewayOptions = {}): () => Gateway {
  let gateway: Gateway | null = null;
  beforeAll(async () => {
    gateway = await startGateway(kind, options);
  }, 90_000);
  afterAll(async () => {
    await gateway?.stop();
  }, 30_000);
  return () => {
    if (gateway === null) {
      throw new Error(`${kind} not started`);
    }
    return gateway;
  };
}
