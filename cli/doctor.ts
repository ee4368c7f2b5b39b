/**
 * `nbstage doctor`: says what nbstage finds on this machine (Node, the Python it runs Jupyter
 * with, the Jupyter packages and kernelspecs, GPUs, git, Redis, Groovy, the nbstage service),
 * what is missing, and how to fix each. All checks run at once, so it takes about a second.
 * This module runs them and builds the report; each kind of check has its own doctor-* module.
 */
import { resolvePython } from '../kernels/python-env';
import { sandboxSupport } from '../kernels/zmq/sandbox';
import { ExitCode } from '../pipelines/errors';
import { describeFailure, findOnPath, runCommand } from './doctor-commands';
import { detectGpus } from './doctor-gpus';
import { kernelspecCheck, listKernelspecs } from './doctor-kernelspecs';
import { probePython, pythonChecks } from './doctor-python';
import { formatDoctorReport, type DoctorCheck, type DoctorReport } from './doctor-report';
import { checkService } from './doctor-service';

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Where the table (or the JSON object) is written. */
  stdout: NodeJS.WritableStream;
  /** Print one JSON object ({@link DoctorReport}) instead of the table. */
  json?: boolean;
  /** Environment to check with (PATH, NBSTAGE_PYTHON, NBSTAGE_URL, ...). Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

const MIN_NODE_MAJOR = 20;

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
  const sandbox = sandboxSupport(env);
  checks.push(
    sandbox.available
      ? {
          name: 'sandbox',
          status: 'ok',
          value: `${sandbox.bwrap}: kernels of serve and worker run in a sandbox each`,
        }
      : {
          name: 'sandbox',
          status: 'optional',
          value: `kernels are NOT sandboxed: ${sandbox.reason ?? ''}`,
          fix: 'apt-get install bubblewrap (in a container: allow it to make PID namespaces)',
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

function redisVersion(stdout: string): string {
  const match = /v=(\S+)/.exec(stdout);
  return match ? match[1] : stdout.trim();
}
