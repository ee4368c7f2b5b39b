/**
 * A kernel's connection file: five free ports on 127.0.0.1, a random key, written 0600 in a
 * private runtime folder (0700) of its own, and removed with that folder once the kernel has
 * read it (it is ready) or failed to start.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The connection file's content (jupyter_client's `connect.py` fields). */
export interface ConnectionInfo {
  transport: 'tcp';
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
}

/** The ZMQ channels of a kernel. */
export type ChannelName = 'shell' | 'iopub' | 'stdin' | 'control' | 'hb';

/** A written connection file; {@link remove} deletes it and its folder. Idempotent. */
export interface ConnectionFile {
  info: ConnectionInfo;
  /** The file's path (the kernel's `{connection_file}`). */
  path: string;
  remove(): void;
}

/**
 * `count` distinct free TCP ports on `ip`: all are held open together before any is let go,
 * so no two are the same (as jupyter_client binds them).
 */
export async function freePorts(count: number, ip = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(0, ip, () => {
            const address = srv.address();
            resolve(typeof address === 'object' && address !== null ? address.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** The ZMQ endpoint of `channel`. */
export function channelUrl(info: ConnectionInfo, channel: ChannelName): string {
  const port = {
    shell: info.shell_port,
    iopub: info.iopub_port,
    stdin: info.stdin_port,
    control: info.control_port,
    hb: info.hb_port,
  }[channel];
  return `${info.transport}://${info.ip}:${port}`;
}

/**
 * Writes a new connection file for a kernel of `kernelName` in a private folder made under
 * `runtimeDir` (default the OS's temporary folder).
 */
export async function writeConnectionFile(
  kernelName: string,
  runtimeDir: string = os.tmpdir(),
): Promise<ConnectionFile> {
  const [shell, iopub, stdin, control, hb] = await freePorts(5);
  const info: ConnectionInfo = {
    transport: 'tcp',
    ip: '127.0.0.1',
    shell_port: shell,
    iopub_port: iopub,
    stdin_port: stdin,
    control_port: control,
    hb_port: hb,
    key: randomBytes(32).toString('hex'),
    signature_scheme: 'hmac-sha256',
    kernel_name: kernelName,
  };
  fs.mkdirSync(runtimeDir, { recursive: true });
  removeAtExit();
  // mkdtemp makes the folder 0700: only this user can read the key.
  const dir = fs.mkdtempSync(path.join(runtimeDir, 'nbstage-kernel-'));
  const file = path.join(dir, `kernel-${info.key.slice(0, 12)}.json`);
  fs.writeFileSync(file, JSON.stringify(info, null, 1), { mode: 0o600, flag: 'wx' });
  pending.add(dir);
  let removed = false;
  return {
    info,
    path: file,
    remove() {
      if (!removed) {
        removed = true;
        pending.delete(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Folders of connection files not removed yet: a process that exits first removes them. */
const pending = new Set<string>();
let exitHookInstalled = false;

function removeAtExit(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  // An `nbstage run` that exits while its kernel starts (bad input found meanwhile) leaves no key.
  process.on('exit', () => {
    for (const dir of pending) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
