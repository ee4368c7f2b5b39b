/**
 * Runs the Jenkins shared library's vars/ steps (and whole declarative Jenkinsfiles) under a real
 * Groovy runtime through test/groovy/step-harness.groovy, with the pipeline steps stubbed, and
 * returns what each scenario called; also runs npm-groovy-lint. Debian's groovy needs JAVA_HOME
 * to name a JDK: when it does not, the one `java` on PATH belongs to is used.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './notebooks';

const ROOT = path.resolve(__dirname, '../..');

/** One run of the harness: a Groovy script calling steps, or a declarative Jenkinsfile. */
export interface StepScenario {
  script?: string;
  jenkinsfile?: string;
  env?: Record<string, string>;
  params?: Record<string, unknown>;
  /** Credentials by id (the value `withCredentials` binds). */
  credentials?: Record<string, string>;
  /** Exit status of each `sh` in turn (the last one repeats); default 0. */
  shStatus?: number | number[];
  /** Installed plugins' short names (`htmlpublisher`, `ansicolor`). */
  plugins?: string[];
  /** A folder `fileExists` looks in (and `sh` runs in, with `runSh`). */
  workspace?: string;
  /**
   * Agents by label, each a workspace folder: `agent { label 'x' }` makes it the workspace (and
   * `WORKSPACE`) until its stage ends; there `stash` and `unstash` really copy files.
   */
  agents?: Record<string, string>;
  /** `sh` really runs its script (`/bin/sh -xe -c`) in the workspace; see the harness. */
  runSh?: boolean;
  /** Paths `fileExists` reports as present. */
  files?: string[];
  description?: string;
}

/**
 * One stubbed step call, with its arguments (`sh` also carries the environment it ran with, and
 * with `runSh` its exit `status` and `output`; `stash`/`unstash` in a workspace the `files`).
 */
export interface StepCall {
  step: string;
  [key: string]: unknown;
}

/** What a scenario did. */
export interface StepOutcome {
  calls: StepCall[];
  /** The message of the `error` step that ended it, or null. */
  error: string | null;
  result: unknown;
  description: string | null;
  buildResult: string | null;
}

/** A JAVA_HOME for Debian's groovy. */
export function javaHome(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.JAVA_HOME;
  if (given !== undefined && fs.existsSync(path.join(given, 'bin', 'java'))) {
    return given;
  }
  const java = execFileSync('bash', ['-c', 'readlink -f "$(command -v java)"'], {
    encoding: 'utf8',
  }).trim();
  return path.dirname(path.dirname(java));
}

/**
 * Runs the scenarios in one Groovy process; rejects with Groovy's stderr when it fails. With
 * `timeoutMs`, the process and what its `sh` steps started (its process group) get SIGTERM when
 * the time is up (SIGKILL 5 s later), and it rejects with the console so far.
 */
export async function runSteps(
  scenarios: StepScenario[],
  options: { timeoutMs?: number } = {},
): Promise<StepOutcome[]> {
  const file = path.join(tempDir(), 'scenarios.json');
  fs.writeFileSync(file, JSON.stringify(scenarios));
  const args = [
    '-cp',
    path.join(ROOT, 'test/groovy/stubs'),
    path.join(ROOT, 'test/groovy/step-harness.groovy'),
    path.join(ROOT, 'jenkins-plugin-bridge/vars'),
    file,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('groovy', args, {
      env: { ...process.env, JAVA_HOME: javaHome() },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.timeoutMs !== undefined,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const group = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-(child.pid ?? 0), signal);
      } catch {
        // already gone
      }
    };
    const timers =
      options.timeoutMs === undefined
        ? []
        : [
            setTimeout(() => {
              timedOut = true;
              group('SIGTERM');
            }, options.timeoutMs),
            setTimeout(() => group('SIGKILL'), options.timeoutMs + 5000),
          ];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      timers.forEach(clearTimeout);
      if (timedOut) {
        reject(new Error(`groovy timed out after ${options.timeoutMs} ms: ${stderr}${stdout}`));
        return;
      }
      const lines = stdout.split('\n').filter((l) => l.startsWith('{'));
      if (code !== 0 || lines.length !== scenarios.length) {
        reject(new Error(`groovy exited ${code}: ${stderr}${stdout}`));
        return;
      }
      resolve(lines.map((l) => JSON.parse(l) as StepOutcome));
    });
  });
}

/** The calls of one kind, in order. */
export function callsOf(outcome: StepOutcome, step: string): StepCall[] {
  return outcome.calls.filter((c) => c.step === step);
}

/**
 * Runs npm-groovy-lint (failing on warnings) with a config in `cwd`; resolves to its exit code and
 * output. Keep the files under `cwd`: the linter scans from the folder they have in common.
 */
export function groovyLint(
  files: string[],
  config: string,
  cwd = ROOT,
): Promise<{ code: number | null; output: string }> {
  const bin = path.join(ROOT, 'node_modules/.bin/npm-groovy-lint');
  const args = [
    '--noserver',
    '--failon',
    'warning',
    '--config',
    config,
    '--output',
    'txt',
    ...files,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd,
      env: { ...process.env, JAVA_HOME: javaHome(), FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
