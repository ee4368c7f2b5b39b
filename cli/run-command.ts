/**
 * `nbstage run`: flags -> spec -> target -> sinks -> summary. The target is local (kernels this
 * process reaches or starts) or the service (`--server`); either way the outputs stream to the
 * console, the executed notebook and reports are written here, and the exit code is the one the
 * README's table gives. SIGINT/SIGTERM cancel the run: the kernel is interrupted and shut down
 * and the partial notebook is written, well within Jenkins' 5 s.
 */
import { printable } from './printable';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { NbstageError } from '../pipelines/errors';
import { ExitCode, UsageError, asNbstageError } from '../pipelines/errors';
import type { RunEventListener } from '../pipelines/executor/events';
import { notifyListeners, unstartedRunEnd } from '../pipelines/executor/outcome';
import {
  FULL_OUTPUT_DIR,
  MIN_MEMORY_BYTES,
  formatLimit,
} from '../pipelines/executor/output-limits';
import type { JSONValue, Notebook } from '../pipelines/notebook/model';
import { cellCheck, runChecks } from '../pipelines/reports/run-metadata';
import { parseParameterArgs, parseSecretArgs, readParamsFile } from '../pipelines/parameters/parse';
import { fileBaseline } from '../pipelines/checks/plan';
import type { RunTarget } from '../pipelines/run-target';
import { loadRun, type RunResult, type RunSpec } from '../pipelines/runner';
import { createConsoleSink } from '../pipelines/sinks/console-sink';
import {
  createFileSink,
  defaultOutputPath,
  type FileSinkPaths,
} from '../pipelines/sinks/file-sink';
import type { JenkinsOrigin } from '../server/runs/run-request';
import { createProgressBar } from '../pipelines/sinks/progress-sink';

/** The flags of `nbstage run` as commander hands them over. */
export interface RunFlags {
  output?: string;
  junit?: string;
  html?: string;
  zeppelinOut?: string;
  parameter: string[];
  rawParameter: string[];
  paramsFile?: string;
  secret: string[];
  kernel?: string;
  stage: string[];
  session?: string;
  sandbox?: string;
  sandboxBind?: string[];
  cellTimeout?: number;
  timeout?: number;
  cwd?: string;
  allowErrors?: boolean;
  maxCellOutput?: number;
  /** `--memory`, in bytes. */
  memory?: number;
  maxRunOutput?: number;
  job?: string;
  build?: string;
  artifacts?: string;
  server?: string;
  workspace?: string;
  exclude?: string[];
  outputs?: string[] | false;
  maxWorkspace?: number;
  baseline?: string;
  rtol?: number;
  gate?: string[];
  json?: boolean;
  progress: boolean;
  color?: boolean;
}

/** Streams and environment the command uses (tests inject their own). */
export interface RunIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/**
 * The run's identity under Jenkins: `--job`/`--build` default to the build's `JOB_NAME` and
 * `BUILD_NUMBER`, and `--session` to `NBSTAGE_SESSION` (set by the `nbstageSession` step).
 */
function jenkinsDefaults(
  flags: RunFlags,
  env: NodeJS.ProcessEnv,
): { job?: string; build?: string; session?: string } {
  const set = (v: string | undefined): string | undefined =>
    v === undefined || v === '' ? undefined : v;
  const underJenkins = set(env.JOB_NAME) !== undefined && set(env.BUILD_NUMBER) !== undefined;
  return {
    job: flags.job ?? (underJenkins ? set(env.JOB_NAME) : undefined),
    build: flags.build ?? (underJenkins ? set(env.BUILD_NUMBER) : undefined),
    session: flags.session ?? set(env.NBSTAGE_SESSION),
  };
}

/** The Jenkins build a remote run belongs to, from the variables Jenkins sets on the agent. */
function jenkinsOrigin(env: NodeJS.ProcessEnv): JenkinsOrigin | undefined {
  const origin: JenkinsOrigin = {};
  if (env.BUILD_URL !== undefined && /^https?:\/\//.test(env.BUILD_URL)) {
    origin.buildUrl = env.BUILD_URL;
  }
  if (env.BUILD_TAG !== undefined && env.BUILD_TAG !== '') {
    origin.buildTag = env.BUILD_TAG;
  }
  if (env.GIT_COMMIT !== undefined && /^[0-9a-fA-F]{7,64}$/.test(env.GIT_COMMIT)) {
    origin.gitCommit = env.GIT_COMMIT;
  }
  return Object.keys(origin).length === 0 ? undefined : origin;
}

async function buildSpec(
  notebook: string,
  flags: RunFlags,
  env: NodeJS.ProcessEnv,
): Promise<RunSpec> {
  const fromFile = flags.paramsFile === undefined ? {} : await readParamsFile(flags.paramsFile);
  const parameters: Record<string, JSONValue> = {
    ...fromFile,
    ...parseParameterArgs(flags.parameter, flags.rawParameter),
  };
  const secrets = parseSecretArgs(flags.secret, env);
  if (flags.memory !== undefined && flags.memory > 0 && flags.memory < MIN_MEMORY_BYTES) {
    throw new UsageError(
      `--memory ${formatLimit(flags.memory)} is too small for a kernel (at least ${formatLimit(MIN_MEMORY_BYTES)}; 0 for no limit)`,
    );
  }
  const identity = jenkinsDefaults(flags, env);
  return {
    notebookPath: notebook,
    parameters,
    secrets,
    kernel: flags.kernel,
    stages: flags.stage,
    session: identity.session,
    cwd: flags.cwd,
    cellTimeoutS: flags.cellTimeout,
    runTimeoutS: flags.timeout,
    allowErrors: flags.allowErrors === true,
    maxCellOutputBytes: flags.maxCellOutput,
    maxRunOutputBytes: flags.maxRunOutput,
    ...(flags.memory === undefined || flags.memory === 0 ? {} : { memoryBytes: flags.memory }),
    job: identity.job,
    build: identity.build,
    artifactsDir: flags.artifacts,
    // Without --artifacts, the full output of cut cells goes beside the executed notebook.
    ...(flags.artifacts === undefined
      ? {
          fullOutputDir: path.join(
            path.dirname(path.resolve(flags.output ?? defaultOutputPath(notebook))),
            FULL_OUTPUT_DIR,
          ),
        }
      : {}),
    environment: process.env,
    ...(flags.baseline === undefined && (flags.gate ?? []).length === 0 && flags.rtol === undefined
      ? {}
      : {
          checks: {
            baseline: flags.baseline,
            rtol: flags.rtol,
            gates: flags.gate ?? [],
            // Through the service, the worker checks the run.
            elsewhere: (flags.server ?? (env.NBSTAGE_URL || undefined)) !== undefined,
          },
        }),
  };
}

/** Colours on the console: `--color`/`--no-color`, else not with NO_COLOR, yes with FORCE_COLOR, else a TTY's. */
export function colorWanted(
  flags: { color?: boolean },
  io: { stdout: { isTTY?: boolean }; env: NodeJS.ProcessEnv },
): boolean {
  if (flags.color !== undefined) {
    return flags.color;
  }
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') {
    return false;
  }
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '0') {
    return true;
  }
  return io.stdout.isTTY === true;
}

function summary(
  result: RunResult | null,
  error: NbstageError | null,
  written: Partial<Record<keyof FileSinkPaths, string>>,
): object {
  const counts: Record<string, number> = {};
  if (result !== null) {
    for (const cell of result.notebook.cells) {
      const status = cell.metadata.nbstage?.status;
      if (typeof status === 'string') {
        counts[status] = (counts[status] ?? 0) + 1;
      }
    }
  }
  const err = result?.error ?? error;
  return {
    run_id: result?.runId ?? null,
    status: result?.status ?? (err === null ? 'completed' : 'error'),
    exit_code: err === null ? 0 : err.exitCode,
    duration_s: result === null ? null : result.durationMs / 1000,
    kernel: result?.notebook.metadata.nbstage?.kernel ?? null,
    cells: counts,
    error:
      err === null
        ? null
        : {
            code: err.code,
            message: result?.notebook.metadata.nbstage?.exception
              ? String(err.message)
              : err.message,
            ...('cellIndex' in err && typeof err.cellIndex === 'number'
              ? { cell_index: err.cellIndex }
              : {}),
          },
    metrics: result?.metrics ?? {},
    ...(result?.notebook.metadata.nbstage?.checks === undefined
      ? {}
      : { checks: result.notebook.metadata.nbstage.checks }),
    files: written,
  };
}

/**
 * What the run's checks found, for the console: each differing cell with its diff, each gate
 * with its value, and the verdict; nothing when the run had no checks.
 */
export function checksReport(notebook: Notebook): string {
  const checks = runChecks(notebook);
  if (checks === null) {
    return '';
  }
  const lines: string[] = [];
  notebook.cells.forEach((cell, index) => {
    const check = cellCheck(cell);
    if (check?.status === 'differs') {
      lines.push(
        `nbstage: ✗ cell ${index}: outputs differ from the baseline: ${check.message ?? ''}`,
      );
      if (check.diff !== null && check.diff !== '') {
        lines.push(
          ...check.diff
            .replace(/\n$/, '')
            .split('\n')
            .map((l) => `    ${l}`),
        );
      }
    }
  });
  for (const gate of checks.gates) {
    const note = gate.note === undefined ? '' : ` (${gate.note})`;
    lines.push(`nbstage: ${gate.passed ? '✓' : '✗'} gate ${gate.gate}: ${gate.message}${note}`);
  }
  const against = checks.baseline === null ? 'no baseline' : `baseline ${checks.baseline}`;
  const note = checks.note === null ? '' : `; ${checks.note}`;
  lines.push(
    `nbstage: checks ${checks.passed ? 'passed' : 'failed'} (${against}${note}): ` +
      `${checks.cells.same} cells same, ${checks.cells.differs} differ, ` +
      `${checks.cells.skipped} not compared`,
  );
  return `${lines.map(printable).join('\n')}\n`;
}

/** Runs `nbstage run`; resolves to the exit code. */
export async function runCommand(notebook: string, flags: RunFlags, io?: RunIO): Promise<number> {
  const { stdout, stderr, env } = io ?? {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  };
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      stderr.write(`\nnbstage: ${signal}: cancelling the run\n`);
      controller.abort();
    } else {
      process.exit(ExitCode.cancelled);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let target: RunTarget | null = null;
  const onListenerError = (err: unknown): void => {
    stderr.write(`nbstage: output sink failed: ${(err as Error).message}\n`);
  };
  try {
    const serverUrl = flags.server ?? (env.NBSTAGE_URL || undefined);
    if (serverUrl !== undefined) {
      const token = env.NBSTAGE_TOKEN ?? '';
      if (token === '') {
        throw new UsageError('--server needs a token in NBSTAGE_TOKEN');
      }
      if (flags.baseline !== undefined && fileBaseline(flags.baseline)) {
        throw new UsageError(
          `--baseline ${flags.baseline}: with --server, the baseline is stored, last-success or a build of the job (a notebook file is compared embedded only)`,
        );
      }
      const { remoteTarget } = await import('../client/remote-target');
      target = remoteTarget({
        url: serverUrl,
        token,
        jenkins: jenkinsOrigin(env),
        artifactsDir: flags.artifacts,
        workspace: {
          dir: flags.workspace,
          exclude: flags.exclude ?? [],
          outputs: flags.outputs === false ? [] : (flags.outputs ?? []),
          noOutputs: flags.outputs === false,
          maxBytes: flags.maxWorkspace,
          ownFiles: [
            flags.output ?? defaultOutputPath(notebook),
            flags.junit,
            flags.html,
            flags.zeppelinOut,
          ].filter((f): f is string => f !== undefined),
          env,
        },
        onWorkspace: (line) => {
          if (flags.json !== true) {
            stderr.write(`nbstage: ${printable(line)}
`);
          }
        },
        onListenerError,
        onArtifacts: (files) => {
          if (flags.json !== true && files.length > 0) {
            stderr.write(
              `nbstage: ${files.length} artifact(s) written to ${flags.artifacts ?? ''}\n`,
            );
          }
        },
      });
    } else {
      // The kernel provider (a local Jupyter server, if one is used) starts while the notebook
      // is read and validated; bad input stops it again before anything is written.
      const { localTarget } = await import('../kernels/local-target');
      const { parseSandboxBind, parseSandboxMode } = await import('../kernels/zmq/sandbox');
      target = localTarget({
        env,
        rootDir: process.cwd(),
        session: (flags.session ?? env.NBSTAGE_SESSION ?? '') !== '',
        sandbox: parseSandboxMode(flags.sandbox ?? 'off'),
        sandboxBinds: (flags.sandboxBind ?? []).map(parseSandboxBind),
        warn: (message) => stderr.write(`nbstage: warning: ${message}\n`),
        onListenerError,
      });
    }
    const spec = await buildSpec(notebook, flags, env);
    const run = await loadRun(spec);
    for (const warning of run.loaded.warnings) {
      stderr.write(`nbstage: warning: ${warning}\n`);
    }
    const paths: FileSinkPaths = {
      notebook: flags.output ?? defaultOutputPath(notebook),
      junit: flags.junit,
      html: flags.html,
      zeppelin: flags.zeppelinOut,
    };
    if (paths.zeppelin !== undefined && run.loaded.format !== 'zeppelin') {
      throw new UsageError('--zeppelin-out needs a Zeppelin note as input');
    }
    const written: Partial<Record<keyof FileSinkPaths, string>> = {};
    const listeners: RunEventListener[] = [];
    const progress =
      flags.progress && flags.json !== true && stderr.isTTY === true
        ? createProgressBar(stderr)
        : null;
    const finishRun = (result: RunResult): number => {
      progress?.stop();
      if (flags.json !== true) {
        stderr.write(checksReport(result.notebook));
      }
      if (flags.json === true) {
        stdout.write(`${JSON.stringify(summary(result, null, written))}\n`);
      } else if (result.error !== null) {
        stderr.write(`nbstage: ${result.error.message}\n`);
      }
      if (flags.json !== true && written.notebook !== undefined) {
        stderr.write(`nbstage: executed notebook written to ${written.notebook}\n`);
      }
      return result.error === null ? ExitCode.ok : result.error.exitCode;
    };
    if (progress !== null) {
      listeners.push(progress.before);
    }
    if (flags.json !== true) {
      listeners.push(
        createConsoleSink({
          stdout,
          stderr,
          color: colorWanted(flags, io ?? { stdout, stderr, env }),
        }),
      );
    }
    if (progress !== null) {
      listeners.push(progress.after);
    }
    listeners.push(
      createFileSink({
        paths,
        notebookName: path.basename(notebook),
        zeppelin: run.loaded.zeppelin,
        onWrite: (kind, file) => {
          written[kind] = file;
        },
      }),
    );

    if (flags.artifacts !== undefined && serverUrl === undefined) {
      // The notebook writes into $NBSTAGE_ARTIFACTS; the folder exists before its first cell.
      await mkdir(path.resolve(flags.artifacts), { recursive: true });
    }
    let result: RunResult;
    try {
      result = await target.run(run, listeners, controller.signal);
    } catch (err) {
      const error = asNbstageError(err);
      if (error.exitCode !== ExitCode.badInput) {
        // Nothing ran, but the run still leaves its record: the notebook, marked with the cause.
        await notifyListeners(
          listeners,
          unstartedRunEnd({ runId: spec.runId ?? '', notebook: run.loaded.notebook, error }),
          onListenerError,
        );
      }
      throw error;
    }
    return finishRun(result);
  } catch (err) {
    const error = asNbstageError(err);
    if (flags.json === true) {
      stdout.write(`${JSON.stringify(summary(null, error, {}))}\n`);
    }
    stderr.write(`nbstage: ${error.message}\n`);
    return error.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await target?.close();
  }
}
