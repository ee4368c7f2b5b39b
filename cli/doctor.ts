/**
 * `nbstage doctor`: says what nbstage finds on this machine (Node, the Python it runs Jupyter
 * with, the Jupyter packages and kernelspecs, GPUs, git, Redis, Groovy, the nbstage service),
 * what is missing, and how to fix each. All checks run at once, so it takes about a second.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../pipelines/errors';
import type { PythonSource } from '../kernels/python-env';
import { packageRoot, resolvePython } from '../kernels/python-env';

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Where the table (or the JSON object) is written. */
  stdout: NodeJS.WritableStream;
  /** Print one JSON object ({@link DoctorReport}) instead of the table. */
  json?: boolean;
  /** Environment to check with (PATH, NBSTAGE_PYTHON, NBSTAGE_URL, ...). Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** `ok`: present; `missing`: required and absent or broken; `optional`: absent, not required. */
export type DoctorStatus = 'ok' | 'missing' | 'optional';

/** One row of the report. */
export interface DoctorCheck {
  /** What was checked: `node`, `python`, `jupyter_server`, `kernelspecs`, `gpu`, ... */
  name: string;
  status: DoctorStatus;
  /** What was found: a version, a path, `none`, or why it is missing. */
  value: string;
  /** How to fix it; set when the status is not `ok`. */
  fix?: string;
}

/** A kernelspec the Python environment offers. */
export interface DoctorKernelspec {
  name: string;
  language: string;
  displayName: string;
  resourceDir: string;
}

/** A GPU as `nvidia-smi` reports it. */
export interface DoctorGpu {
  name: string;
  driver: string;
  memory: string;
}

/** Everything `nbstage doctor` found; `--json` prints it as is. */
export interface DoctorReport {
  /** True when no required check is missing. */
  ok: boolean;
  checks: DoctorCheck[];
  python: { path: string; source: PythonSource; version: string | null };
  kernelspecs: DoctorKernelspec[];
  gpus: DoctorGpu[];
}

/** The Python packages nbstage needs in the interpreter it runs Jupyter with. */
const PYTHON_PACKAGES = ['jupyter_server', 'ipykernel', 'bash_kernel', 'nbformat'] as const;
/** Kernelspecs nbstage needs: python3 for notebooks, bash for `%sh` paragraphs. */
const REQUIRED_KERNELSPECS = ['python3', 'bash'] as const;
const MIN_NODE_MAJOR = 20;
const MIN_PYTHON: readonly [number, number] = [3, 9];
const COMMAND_TIMEOUT_MS = 10_000;
const HEALTH_TIMEOUT_MS = 2_000;
const SETUP_HINT = 'npm run setup (creates .venv with kernels/requirements.txt)';

/**
 * Prints the doctor's report on `options.stdout`, as a table or as one JSON object. Returns the
 * exit code: 0 when everything required is present, 2 otherwise.
 */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const report = await collectDoctorReport(options.env ?? process.env);
  options.stdout.write(
    options.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report),
  );
  return report.ok ? ExitCode.ok : ExitCode.badInput;
}

/** Runs every check (in parallel) and gathers the results. */
export async function collectDoctorReport(env: NodeJS.ProcessEnv): Promise<DoctorReport> {
  const resolved = resolvePython(env);
  const [pythonProbe, kernelspecs, gpus, git, redis, service] = await Promise.all([
    probePython(resolved.python, env),
    listKernelspecs(resolved.python, env),
    detectGpus(env),
    runCommand('git', ['--version'], env),
    runCommand('redis-server', ['--version'], env),
    checkService(env),
  ]);

  const checks: DoctorCheck[] = [nodeCheck()];
  checks.push(...pythonChecks(resolved.python, resolved.source, pythonProbe));
  checks.push(kernelspecCheck(resolved.python, resolved.source, pythonProbe, kernelspecs));
  checks.push(
    git.ok
      ? { name: 'git', status: 'ok', value: git.stdout.trim().replace(/^git version /, '') }
      : {
          name: 'git',
          status: 'missing',
          value: describeFailure('git', git),
          fix: 'install git (Debian/Ubuntu: apt-get install git); the version store needs it',
        },
  );
  checks.push(gpus.check);
  checks.push(
    redis.ok
      ? { name: 'redis-server', status: 'ok', value: redisVersion(redis.stdout) }
      : {
          name: 'redis-server',
          status: 'optional',
          value: 'not found (optional: a local Redis for `nbstage serve --redis`)',
          fix: 'apt-get install redis-server, or point --redis at a Redis elsewhere',
        },
  );
  const groovy = findOnPath('groovy', env);
  checks.push(
    groovy !== undefined
      ? { name: 'groovy', status: 'ok', value: groovy }
      : {
          name: 'groovy',
          status: 'optional',
          value: 'not found (optional: runs the Jenkins library tests)',
          fix: 'apt-get install groovy (and set JAVA_HOME to a JDK 17)',
        },
  );
  checks.push(...service);

  return {
    ok: checks.every((check) => check.status !== 'missing'),
    checks,
    python: {
      path: pythonProbe.info?.executable ?? resolved.python,
      source: resolved.source,
      version: pythonProbe.info?.version ?? null,
    },
    kernelspecs: kernelspecs.specs,
    gpus: gpus.gpus,
  };
}

/** The human-readable table: ✓ present, ✗ missing, – optional and absent; a fix under each. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((check) => check.name.length)) + 2;
  const mark: Record<DoctorStatus, string> = { ok: '✓', missing: '✗', optional: '–' };
  const lines = ['nbstage doctor'];
  for (const check of report.checks) {
    lines.push(`  ${mark[check.status]} ${check.name.padEnd(width)}${check.value}`);
    if (check.status !== 'ok' && check.fix !== undefined) {
      lines.push(`  ${' '.repeat(width + 2)}fix: ${check.fix}`);
    }
  }
  const missing = report.checks.filter((check) => check.status === 'missing').length;
  lines.push(
    missing === 0
      ? 'Everything nbstage needs is here.'
      : `${missing} required ${missing === 1 ? 'item is' : 'items are'} missing: see the fixes above.`,
  );
  return `${lines.join('\n')}\n`;
}

// --- Node ---------------------------------------------------------------------------------

function nodeCheck(): DoctorCheck {
  const version = process.versions.node;
  const major = Number(version.split('.')[0]);
  return major >= MIN_NODE_MAJOR
    ? { name: 'node', status: 'ok', value: version }
    : {
        name: 'node',
        status: 'missing',
        value: `${version} (nbstage needs ${MIN_NODE_MAJOR} or later)`,
        fix: `install Node.js ${MIN_NODE_MAJOR} or later`,
      };
}

// --- Python and its packages ----------------------------------------------------------------

interface PythonInfo {
  version: string;
  executable: string;
  packages: Record<string, string | null>;
}

interface PythonProbe {
  info?: PythonInfo;
  failure?: CommandResult;
}

/**
 * Finds the packages without importing them (importing nbformat alone takes a second): the
 * module must be findable on that interpreter's path, the version comes from its metadata.
 */
const PROBE_SCRIPT = `
import importlib.util, json, sys
from importlib import metadata
packages = {}
for name in ${JSON.stringify(PYTHON_PACKAGES)}:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    version = None
    if found:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "unknown"
    packages[name] = version
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3],
                  "executable": sys.executable, "packages": packages}))
`;

async function probePython(python: string, env: NodeJS.ProcessEnv): Promise<PythonProbe> {
  const result = await runCommand(python, ['-c', PROBE_SCRIPT], env);
  if (!result.ok) {
    return { failure: result };
  }
  try {
    return { info: JSON.parse(result.stdout) as PythonInfo };
  } catch {
    return { failure: { ...result, ok: false, reason: 'printed something other than JSON' } };
  }
}

function sourceLabel(source: PythonSource): string {
  return source === 'env' ? 'from NBSTAGE_PYTHON' : source === 'venv' ? 'the .venv' : 'from PATH';
}

function pythonChecks(python: string, source: PythonSource, probe: PythonProbe): DoctorCheck[] {
  if (probe.info === undefined) {
    const fix =
      source === 'env'
        ? `point NBSTAGE_PYTHON at a working python with the packages of kernels/requirements.txt, or unset it and run ${SETUP_HINT}`
        : source === 'venv'
          ? `the .venv is broken: remove ${path.join(packageRoot(), '.venv')} and run npm run setup`
          : `run ${SETUP_HINT}; it needs python3 3.11+ (Debian/Ubuntu: apt-get install python3 python3-venv)`;
    const value = `${describeFailure(python, probe.failure)} (${sourceLabel(source)})`;
    return [
      { name: 'python', status: 'missing', value, fix },
      ...PYTHON_PACKAGES.map((name): DoctorCheck => ({
        name,
        status: 'missing',
        value: 'not checked: no working python',
      })),
    ];
  }
  const info = probe.info;
  const [major, minor] = info.version.split('.').map(Number);
  const oldPython = major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1]);
  const checks: DoctorCheck[] = [
    oldPython
      ? {
          name: 'python',
          status: 'missing',
          value: `${info.version} ${info.executable} (${sourceLabel(source)}; too old)`,
          fix: `use Python ${MIN_PYTHON.join('.')} or later (NBSTAGE_PYTHON, or ${SETUP_HINT})`,
        }
      : {
          name: 'python',
          status: 'ok',
          value: `${info.version} ${info.executable} (${sourceLabel(source)})`,
        },
  ];
  const pins = requirementPins();
  const installFix = installHint(python, source);
  for (const name of PYTHON_PACKAGES) {
    const version = info.packages[name] ?? null;
    const pin = pins.get(name);
    checks.push(
      version === null
        ? { name, status: 'missing', value: `not installed in ${info.executable}`, fix: installFix }
        : {
            name,
            status: 'ok',
            value:
              pin !== undefined && pin !== version ? `${version} (nbstage pins ${pin})` : version,
          },
    );
  }
  return checks;
}

/** How to install nbstage's Python requirements into the interpreter it uses. */
function installHint(python: string, source: PythonSource): string {
  if (source !== 'env') {
    return SETUP_HINT;
  }
  const requirements = path.join(packageRoot(), 'kernels', 'requirements.txt');
  return `${python} -m pip install -r ${requirements}, or unset NBSTAGE_PYTHON to use the .venv of npm run setup`;
}

/** `name==version` pins of kernels/requirements.txt (empty when it cannot be read). */
function requirementPins(): Map<string, string> {
  const pins = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync(path.join(packageRoot(), 'kernels', 'requirements.txt'), 'utf8');
  } catch {
    return pins;
  }
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)/.exec(line);
    if (match) {
      pins.set(match[1].toLowerCase().replace(/[-.]/g, '_'), match[2]);
    }
  }
  return pins;
}

// --- Kernelspecs ----------------------------------------------------------------------------

interface KernelspecList {
  specs: DoctorKernelspec[];
  failure?: CommandResult;
}

interface KernelspecJson {
  kernelspecs?: Record<
    string,
    { resource_dir?: string; spec?: { language?: string; display_name?: string } }
  >;
}

async function listKernelspecs(python: string, env: NodeJS.ProcessEnv): Promise<KernelspecList> {
  const result = await runCommand(python, ['-m', 'jupyter', 'kernelspec', 'list', '--json'], env);
  if (!result.ok) {
    return { specs: [], failure: result };
  }
  try {
    const parsed = JSON.parse(result.stdout) as KernelspecJson;
    const specs = Object.entries(parsed.kernelspecs ?? {}).map(
      ([name, entry]): DoctorKernelspec => ({
        name,
        language: entry.spec?.language ?? '',
        displayName: entry.spec?.display_name ?? name,
        resourceDir: entry.resource_dir ?? '',
      }),
    );
    specs.sort((a, b) => a.name.localeCompare(b.name));
    return { specs };
  } catch {
    return {
      specs: [],
      failure: { ...result, ok: false, reason: 'printed something other than JSON' },
    };
  }
}

function kernelspecCheck(
  python: string,
  source: PythonSource,
  probe: PythonProbe,
  list: KernelspecList,
): DoctorCheck {
  const name = 'kernelspecs';
  if (probe.info === undefined) {
    return {
      name,
      status: 'missing',
      value: 'not checked: no working python',
    };
  }
  if (list.failure !== undefined) {
    return {
      name,
      status: 'missing',
      value: `jupyter kernelspec list failed: ${describeFailure('jupyter', list.failure)}`,
      fix: installHint(python, source),
    };
  }
  const offered = list.specs.map((spec) => spec.name);
  const absent = REQUIRED_KERNELSPECS.filter((spec) => !offered.includes(spec));
  const value = offered.length > 0 ? offered.join(', ') : 'none';
  if (absent.length === 0) {
    return { name, status: 'ok', value };
  }
  const installers: Record<(typeof REQUIRED_KERNELSPECS)[number], string> = {
    python3: `${python} -m ipykernel install --sys-prefix`,
    bash: `${python} -m bash_kernel.install --sys-prefix`,
  };
  return {
    name,
    status: 'missing',
    value: `${value} (missing: ${absent.join(', ')})`,
    fix: absent.map((spec) => installers[spec]).join(' && '),
  };
}

// --- GPUs -----------------------------------------------------------------------------------

/** GPUs `nvidia-smi` lists, and the report's row for them (no GPU is not an error). */
export async function detectGpus(
  env: NodeJS.ProcessEnv,
): Promise<{ gpus: DoctorGpu[]; check: DoctorCheck }> {
  const result = await runCommand(
    'nvidia-smi',
    ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    env,
  );
  if (!result.ok) {
    return result.notFound
      ? { gpus: [], check: { name: 'gpu', status: 'optional', value: 'none' } }
      : {
          gpus: [],
          check: {
            name: 'gpu',
            status: 'optional',
            value: `none usable: ${describeFailure('nvidia-smi', result)}`,
            fix: 'check the NVIDIA driver (nvidia-smi must list the GPUs)',
          },
        };
  }
  const gpus = result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line): DoctorGpu => {
      const [name = '', driver = '', memory = ''] = line.split(',').map((part) => part.trim());
      return { name, driver, memory };
    });
  if (gpus.length === 0) {
    return { gpus, check: { name: 'gpu', status: 'optional', value: 'none' } };
  }
  const value = gpus
    .map((gpu, index) => `${index}: ${gpu.name}, ${gpu.memory}, driver ${gpu.driver}`)
    .join('; ');
  return { gpus, check: { name: 'gpu', status: 'ok', value } };
}

// --- Tools ----------------------------------------------------------------------------------

function redisVersion(stdout: string): string {
  const match = /v=(\S+)/.exec(stdout);
  return match ? match[1] : stdout.trim();
}

/** Where `command` is on the PATH of `env`, without running it (Groovy takes a second to start). */
function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') {
      continue;
    }
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        return candidate;
      }
    } catch {
      // not here; next directory
    }
  }
  return undefined;
}

// --- The nbstage service --------------------------------------------------------------------

async function checkService(env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const rawUrl = env.NBSTAGE_URL?.trim() ?? '';
  const token = env.NBSTAGE_TOKEN ?? '';
  const checks: DoctorCheck[] = [];
  if (rawUrl !== '') {
    checks.push(await checkHealth(rawUrl));
  }
  if (token !== '') {
    checks.push({ name: 'NBSTAGE_TOKEN', status: 'ok', value: 'set (not shown)' });
  } else if (rawUrl !== '') {
    checks.push({
      name: 'NBSTAGE_TOKEN',
      status: 'optional',
      value: 'not set: the service refuses every request but /healthz',
      fix: 'export NBSTAGE_TOKEN=<token> (nbstage token create --role run, on the service)',
    });
  }
  return checks;
}

async function checkHealth(rawUrl: string): Promise<DoctorCheck> {
  const name = 'NBSTAGE_URL';
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return {
      name,
      status: 'missing',
      value: 'not a URL',
      fix: 'set NBSTAGE_URL to the service, e.g. http://host:8080',
    };
  }
  // Credentials in the URL are neither sent nor printed.
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  const shown = url.toString().replace(/\/$/, '');
  url.pathname = `${url.pathname.replace(/\/$/, '')}/healthz`;
  const health = url.toString();
  try {
    const response = await fetch(health, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await response.body?.cancel();
    if (response.ok) {
      return { name, status: 'ok', value: `${shown} (healthz: HTTP ${response.status})` };
    }
    return {
      name,
      status: 'missing',
      value: `${health} answered HTTP ${response.status}`,
      fix: 'check that NBSTAGE_URL is the nbstage service (nbstage serve) and that it is healthy',
    };
  } catch (err) {
    // fetch wraps network errors ("fetch failed") around the real one, kept in `cause`.
    const reason =
      errorField(err, 'name') === 'TimeoutError'
        ? `no answer within ${HEALTH_TIMEOUT_MS / 1000} s`
        : (errorField(errorCause(err), 'message') ?? errorField(err, 'message') ?? String(err));
    return {
      name,
      status: 'missing',
      value: `cannot reach ${health}: ${reason}`,
      fix: 'start the service (nbstage serve), fix NBSTAGE_URL, or unset it to run embedded',
    };
  }
}

/**
 * A string property of a thrown value. Not `instanceof Error`: errors from another realm (a
 * DOMException from fetch under jest's sandbox, for one) are not instances of this realm's Error.
 */
function errorField(err: unknown, field: 'name' | 'message'): string | undefined {
  if (typeof err === 'object' && err !== null && field in err) {
    const value = (err as Record<string, unknown>)[field];
    return typeof value === 'string' && value !== '' ? value : undefined;
  }
  return undefined;
}

function errorCause(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
}

// --- Running commands -----------------------------------------------------------------------

interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** The command does not exist (ENOENT). */
  notFound: boolean;
  /** Why it failed, in a few words. */
  reason?: string;
}

/** Runs a command with `env` (its PATH finds the command); never rejects. */
function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ ok: true, stdout, stderr, notFound: false });
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        const lastLine = stderr.trim().split('\n').pop() ?? '';
        const reason =
          code === 'ENOENT'
            ? 'not found'
            : code === 'EACCES'
              ? 'not executable'
              : error.killed
                ? `no answer within ${COMMAND_TIMEOUT_MS / 1000} s`
                : lastLine || `exit code ${String(error.code)}`;
        resolve({ ok: false, stdout, stderr, notFound: code === 'ENOENT', reason });
      },
    );
  });
}

function describeFailure(command: string, result: CommandResult | undefined): string {
  return `${command}: ${result?.reason ?? 'failed'}`;
}
