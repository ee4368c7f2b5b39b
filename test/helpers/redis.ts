/**
 * A real redis-server for the queue tests: on a free port, in its own temp dir `test-<uuid>`,
 * with AOF persistence (`appendfsync always`) so that a restart, even after SIGKILL, keeps every
 * write. `useRedisServer()` starts one per test file and stops it (and removes its dir) after.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running redis-server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Its data dir (the AOF files live there). */
  dir: string;
  /** Stops it for good and removes its dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops it (SIGTERM: clean shutdown; SIGKILL: a crash) and starts it again on the same port. */
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** The redis-server binary, or a clear error saying how to install it. */
function redisServerBinary(): string {
  const explicit = process.env.NBSTAGE_REDIS_SERVER;
  if (explicit !== undefined && explicit !== '') {
    return explicit;
  }
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(
      'redis-server is not installed (the BullMQ queue tests run against a real Redis): ' +
        'install it with `apt-get install redis-server` (Debian), or set NBSTAGE_REDIS_SERVER',
    );
  }
  return 'redis-server';
}

/** A TCP port free right now on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Spawns redis-server and resolves once it accepts connections. */
async function launch(
  binary: string,
  port: number,
  dir: string,
  extra: string[] = [],
): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...extra,
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not start within 10 s'), 10_000);
    function fail(why: string): void {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} ${why}:\n${output.slice(-2000)}`));
    }
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (err) => fail(`could not be spawned (${err.message})`));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code})`));
  });
  child.removeAllListeners('exit');
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/** Sends a signal and waits for the process to be gone. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/**
 * Starts a redis-server with AOF persistence in a fresh temp dir `test-<uuid>`; with `password`
 * it requires it (`requirepass`), and its URL carries it.
 */
export async function startRedisServer(options: { password?: string } = {}): Promise<RedisServer> {
  const extra = options.password === undefined ? [] : ['--requirepass', options.password];
  const binary = redisServerBinary();
  const dir = path.join(os.tmpdir(), `test-${randomUUID()}`);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let child = await launch(binary, port, dir, extra);
  let stopped = false;
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      if (!stopped) {
        stopped = true;
        await terminate(child, 'SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    async restart(signal = 'SIGTERM') {
      await terminate(child, signal);
      child = await launch(binary, port, dir, extra);
    },
  };
}

/** Starts a redis-server before the file's tests and stops it after; returns a getter. */
export function useRedisServer(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) {
      throw new Error('redis-server not started');
    }
    return server;
  };
}
