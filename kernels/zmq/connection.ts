/**
 * A kernel's connection file: a random key and five endpoints, written 0600 in a private runtime
 * folder (0700) of its own. The endpoints are free ports on 127.0.0.1 (`tcp`, what every kernel
 * supports) or Unix sockets in that folder (`ipc`, for sandboxed kernels: no other process's
 * sandbox sees the folder, so none can even subscribe to the kernel's outputs, as any local
 * process can on a TCP port). The file goes once the kernel has read it (it is ready) or failed
 * to start; the folder, with the sockets, when the kernel ends.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The connection file's content (jupyter_client's `connect.py` fields). */
export interface ConnectionInfo {
  transport: KernelTransport;
  /** The address (`tcp`), or the path the socket files are named after (`ipc`: `<ip>-<port>`). */
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

/** How a kernel's channels are reached: TCP ports on 127.0.0.1 or Unix sockets. */
export type KernelTransport = 'tcp' | 'ipc';

/** The ZMQ channels of a kernel. */
export type ChannelName = 'shell' | 'iopub' | 'stdin' | 'control' | 'hb';

/** A written connection file. */
export interface ConnectionFile {
  info: ConnectionInfo;
  /** The file's path (the kernel's `{connection_file}`). */
  path: string;
  /** Its private folder (with `ipc`, where the kernel makes its sockets). */
  dir: string;
  /** Deletes the file (the key), keeping the folder for the sockets. Idempotent. */
  removeFile(): void;
  /** Deletes the file and its folder. Idempotent. */
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
  return info.transport === 'ipc'
    ? `ipc://${info.ip}-${port}`
    : `${info.transport}://${info.ip}:${port}`;
}

/** The longest Unix socket path Linux takes (`sun_path` holds 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Writes a new connection file for a kernel of `kernelName` in a private folder made under
 * `runtimeDir` (default the OS's temporary folder). With `ipc`, a `runtimeDir` too deep for
 * socket paths gives way to the OS's temporary folder.
 */
export async function writeConnectionFile(
  kernelName: string,
  runtimeDir: string = os.tmpdir(),
  transport: KernelTransport = 'tcp',
): Promise<ConnectionFile> {
  const key = randomBytes(32).toString('hex');
  // 'nbstage-kernel-' + 6 random characters + '/k-5'.
  const fits = (parent: string): boolean =>
    Buffer.byteLength(path.join(parent, 'nbstage-kernel-XXXXXX', 'k-5')) <= MAX_SOCKET_PATH;
  const parent = transport === 'ipc' && !fits(runtimeDir) ? os.tmpdir() : runtimeDir;
  if (transport === 'ipc' && !fits(parent)) {
    throw new Error(`no folder short enough for a kernel's sockets: ${parent}`);
  }
  fs.mkdirSync(parent, { recursive: true });
  removeAtExit();
  // mkdtemp makes the folder 0700: only this user can read the key (or reach the sockets).
  const dir = fs.mkdtempSync(path.join(parent, 'nbstage-kernel-'));
  pending.add(dir);
  const ports = transport === 'ipc' ? [1, 2, 3, 4, 5] : await freePorts(5);
  const [shell, iopub, stdin, control, hb] = ports;
  const info: ConnectionInfo = {
    transport,
    ip: transport === 'ipc' ? path.join(dir, 'k') : '127.0.0.1',
    shell_port: shell,
    iopub_port: iopub,
    stdin_port: stdin,
    control_port: control,
    hb_port: hb,
    key,
    signature_scheme: 'hmac-sha256',
    kernel_name: kernelName,
  };
  const file = path.join(dir, `kernel-${key.slice(0, 12)}.json`);
  fs.writeFileSync(file, JSON.stringify(info, null, 1), { mode: 0o600, flag: 'wx' });
  let removed = false;
  return {
    info,
    path: file,
    dir,
    removeFile() {
      fs.rmSync(file, { force: true });
    },
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
