/**
 * A sandbox per kernel with bubblewrap (`bwrap`): the kernel sees the system's programs and
 * libraries (/usr, and from /etc only what name resolution, TLS and the dynamic linker need),
 * its Python environment, its kernelspec, nbstage's Python helpers, its connection file, its
 * own working folder (read-write) and what the operator lists; not the service's home, the
 * runtime folders, other runs' folders or other kernels' connection files. /tmp and HOME are
 * private to the kernel; the network stays (notebooks fetch data). New PID and IPC namespaces;
 * the sandbox dies with nbstage (`--die-with-parent`).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../pipelines/errors';
import type { KernelTransport } from './connection';

/** `--sandbox`: on where the machine allows it, required, or off. */
export type SandboxMode = 'auto' | 'required' | 'off';

/** The modes `--sandbox` takes. */
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'required', 'off'];

/** A path the operator makes visible in every sandbox (`--sandbox-bind PATH[:ro]`). */
export interface SandboxBind {
  path: string;
  readOnly: boolean;
}

/** Whether kernels can be sandboxed here, and why not. */
export interface SandboxSupport {
  available: boolean;
  /** The bwrap binary used. */
  bwrap: string;
  /** Why not, when not available. */
  reason?: string;
}

/** What one kernel's sandbox shows. */
export interface SandboxPlan {
  bwrap: string;
  /** Read-only paths (the Python environment, kernelspec, helpers). */
  readOnly: string[];
  /** The folder the kernel may write (its cwd, or a folder holding it). */
  workDir: string;
  /** Where it starts (default `workDir`). */
  cwd?: string;
  /** Other folders it may write (a run's workspace copy beside the run's folder). */
  moreWritable?: string[];
  /** The private folder of its connection file, read-write (its Unix sockets are made there). */
  connectionDir?: string;
  /** The operator's binds. */
  binds: SandboxBind[];
  /** Device nodes to show (a GPU lease's). */
  devices?: string[];
}

/** Where HOME is inside a sandbox (a private, empty folder). */
export const SANDBOX_HOME = '/tmp/home';

/** From /etc, what programs need to resolve names, speak TLS and load libraries. */
const ETC_ENTRIES = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'gai.conf',
  'group',
  'host.conf',
  'hostname',
  'hosts',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'mime.types',
  'nsswitch.conf',
  'passwd',
  'pki',
  'resolv.conf',
  'ssl',
  'timezone',
];

/** Top-level entries that are links into /usr on merged-/usr systems, or folders elsewhere. */
const ROOT_ENTRIES = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

let support: SandboxSupport | null = null;

/** The bwrap binary: `NBSTAGE_BWRAP`, else `bwrap` from PATH. */
function bwrapBinary(env: NodeJS.ProcessEnv): string {
  const explicit = env.NBSTAGE_BWRAP;
  return explicit !== undefined && explicit !== '' ? explicit : 'bwrap';
}

/**
 * Whether bubblewrap works here: it runs a trivial command in new PID and IPC namespaces (a
 * container without the privileges, or a kernel without user namespaces, says no). Asked once.
 */
export function sandboxSupport(env: NodeJS.ProcessEnv = process.env): SandboxSupport {
  if (support !== null) {
    return support;
  }
  const bwrap = bwrapBinary(env);
  const probe = spawnSync(
    bwrap,
    ['--ro-bind', '/', '/', '--unshare-pid', '--unshare-ipc', '--die-with-parent', 'true'],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (probe.error !== undefined) {
    const missing = (probe.error as NodeJS.ErrnoException).code === 'ENOENT';
    support = {
      available: false,
      bwrap,
      reason: missing
        ? `${bwrap} is not installed (Debian: apt-get install bubblewrap)`
        : `${bwrap} could not be run: ${probe.error.message}`,
    };
  } else if (probe.status !== 0) {
    support = {
      available: false,
      bwrap,
      reason: `${bwrap} cannot make namespaces here: ${probe.stderr.trim() || `exit ${probe.status}`}`,
    };
  } else {
    support = { available: true, bwrap };
  }
  return support;
}

/**
 * Whether kernels are sandboxed in `mode`: `off` never; `auto` when available (`warn` is told
 * why not); `required` when available. @throws UsageError for `required` where it is not.
 */
export function sandboxWanted(
  mode: SandboxMode,
  warn: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): SandboxSupport | null {
  if (mode === 'off') {
    return null;
  }
  const found = sandboxSupport(env);
  if (found.available) {
    return found;
  }
  if (mode === 'required') {
    throw new UsageError(`--sandbox required: kernels cannot be sandboxed: ${found.reason ?? ''}`);
  }
  warn(`kernels are NOT sandboxed: ${found.reason ?? ''} (--sandbox off silences this)`);
  return null;
}

/** Parses `--sandbox`. @throws UsageError naming the modes. */
export function parseSandboxMode(value: string): SandboxMode {
  if ((SANDBOX_MODES as readonly string[]).includes(value)) {
    return value as SandboxMode;
  }
  throw new UsageError(`--sandbox must be one of ${SANDBOX_MODES.join(', ')}, not "${value}"`);
}

/**
 * `NBSTAGE_SANDBOX_TRANSPORT`: how sandboxed kernels are reached. `ipc` (the default): Unix
 * sockets in the kernel's private folder, reachable by no other sandbox and, once connected, by
 * no path at all; `tcp`: ports on 127.0.0.1, for kernels that cannot bind Unix sockets (any
 * local process can then subscribe to such a kernel's outputs, though not drive it without its
 * key). @throws UsageError for another value
 */
export function sandboxTransport(env: NodeJS.ProcessEnv = process.env): KernelTransport {
  const value = env.NBSTAGE_SANDBOX_TRANSPORT ?? '';
  if (value === '' || value === 'ipc') {
    return 'ipc';
  }
  if (value === 'tcp') {
    return 'tcp';
  }
  throw new UsageError(`NBSTAGE_SANDBOX_TRANSPORT must be ipc or tcp, not "${value}"`);
}

/** Parses `--sandbox-bind PATH[:ro]`. @throws UsageError for a relative or missing path. */
export function parseSandboxBind(value: string): SandboxBind {
  const readOnly = value.endsWith(':ro');
  const where = readOnly ? value.slice(0, -3) : value;
  if (!path.isAbsolute(where)) {
    throw new UsageError(`--sandbox-bind needs an absolute path, not "${value}"`);
  }
  if (!fs.existsSync(where)) {
    throw new UsageError(`--sandbox-bind ${where}: no such file or folder`);
  }
  return { path: path.resolve(where), readOnly };
}

/** The bwrap arguments that show a top-level entry of / as it is (a link stays a link). */
function rootEntry(name: string): string[] {
  const at = `/${name}`;
  try {
    const stat = fs.lstatSync(at);
    if (stat.isSymbolicLink()) {
      return ['--symlink', fs.readlinkSync(at), at];
    }
    return ['--ro-bind', at, at];
  } catch {
    return [];
  }
}

/**
 * The command that runs `argv` in the sandbox `plan` describes: bwrap's arguments, `--`, argv.
 * The kernel starts in its working folder.
 */
export function sandboxCommand(argv: string[], plan: SandboxPlan): string[] {
  const args = [
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    '--ro-bind',
    '/usr',
    '/usr',
    ...ROOT_ENTRIES.flatMap(rootEntry),
    ...ETC_ENTRIES.flatMap((e) => ['--ro-bind-try', `/etc/${e}`, `/etc/${e}`]),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--dir',
    SANDBOX_HOME,
  ];
  for (const dir of new Set(plan.readOnly)) {
    args.push('--ro-bind-try', dir, dir);
  }
  for (const bind of plan.binds) {
    args.push(bind.readOnly ? '--ro-bind' : '--bind', bind.path, bind.path);
  }
  for (const device of plan.devices ?? []) {
    args.push('--dev-bind-try', device, device);
  }
  if (plan.connectionDir !== undefined) {
    args.push('--bind', plan.connectionDir, plan.connectionDir);
  }
  for (const dir of plan.moreWritable ?? []) {
    args.push('--bind', dir, dir);
  }
  args.push('--bind', plan.workDir, plan.workDir, '--chdir', plan.cwd ?? plan.workDir);
  return [plan.bwrap, ...args, '--', ...argv];
}

/** Folders a Python at `python` needs: its environment and, for a venv, the base interpreter's. */
export function pythonFolders(python: string): string[] {
  if (!path.isAbsolute(python)) {
    return [];
  }
  const folders = new Set<string>();
  const prefix = path.dirname(path.dirname(python));
  folders.add(prefix);
  try {
    folders.add(path.dirname(path.dirname(fs.realpathSync(python))));
  } catch {
    // A missing interpreter fails to start, inside the sandbox as outside.
  }
  try {
    const cfg = fs.readFileSync(path.join(prefix, 'pyvenv.cfg'), 'utf8');
    const home = /^home\s*=\s*(.+)$/m.exec(cfg)?.[1]?.trim();
    if (home !== undefined && path.isAbsolute(home)) {
      folders.add(path.dirname(home));
    }
  } catch {
    // Not a virtual environment.
  }
  return [...folders].filter((f) => f !== '/' && !f.startsWith('/usr'));
}
