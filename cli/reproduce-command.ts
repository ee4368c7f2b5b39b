/**
 * `nbstage reproduce <job> <build>`: runs a stored build again as it ran (its notebook,
 * parameters, stages, labels and memory limit as recorded, its inputs from the content store by
 * digest, never today's files). With the service (`--server`, `NBSTAGE_URL`) it becomes the
 * job's next build `<build>-repro-N`, streamed like `nbstage run --server`; without, it runs
 * here from the home's store and is not stored (`reproduce-local.ts`). Either way it then says
 * whether its outputs match the stored ones (the baseline check against the build) and what
 * differs in the environment that ran it (packages added, removed, changed; interpreter,
 * machine, git). Exit 0 when every cell matches, 6 when one differs (named), else the run's own
 * exit code.
 */
import { ExitCode, UsageError, asNbstageError, type NbstageError } from '../pipelines/errors';
import { RunEventFanout, warnListenerError } from '../pipelines/executor/outcome';
import type { RunEventListener, RunStatus } from '../pipelines/executor/events';
import type { Notebook } from '../pipelines/notebook/model';
import { parseSecretArgs } from '../pipelines/parameters/parse';
import { environmentDiffLines, type EnvironmentDiff } from '../pipelines/environment/diff';
import { createConsoleSink } from '../pipelines/sinks/console-sink';
import { createFileSink, type FileSinkPaths } from '../pipelines/sinks/file-sink';
import { printable } from './printable';
import { checksReport, colorWanted, type RunIO } from './run-command';
import type { ReproduceRequest } from '../server/runs/reproduce';
import { serviceOf } from './service-target';

/** The flags of `nbstage reproduce`. */
export interface ReproduceFlags {
  server?: string;
  /** The home whose store is read when there is no service. */
  home?: string;
  secret: string[];
  rtol?: number;
  output?: string;
  junit?: string;
  html?: string;
  json?: boolean;
  color?: boolean;
}

/** Streams and environment the command uses (tests inject their own): as `nbstage run`'s. */
export type ReproduceIO = RunIO;

/** How a reproduction went, wherever it ran. */
interface Reproduced {
  /** The build it became; null when it ran here and was not stored. */
  reproduction: string | null;
  runId: string;
  status: string;
  error: NbstageError | null;
  notebook: Notebook;
  /** The environment against the build's; null when the service kept no version to compare. */
  environment: EnvironmentDiff | null;
}

/** What both ways of running share. */
interface Context {
  job: string;
  build: string;
  flags: ReproduceFlags;
  body: ReproduceRequest;
  /** The console and file sinks, for the notebook's file name (the report's title). */
  listeners: (notebookName: string) => RunEventListener[];
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
}

/** On the service, as the job's next build `<build>-repro-N`. */
async function onService(ctx: Context): Promise<Reproduced> {
  const { job, build } = ctx;
  const { url, token } = serviceOf(ctx.flags.server, ctx.env);
  const { NbstageClient } = await import('../client/api-client');
  const { endStream, runError, streamRun } = await import('../client/remote-target');
  const client = new NbstageClient(url, token);
  const record = await client.reproduce(job, build, ctx.body);
  ctx.say(
    `reproducing ${job} #${build} as #${record.build} (run ${record.id}): its stored notebook, parameters and inputs`,
  );
  const started = Date.now();
  const fanout = new RunEventFanout(ctx.listeners(record.notebookName), warnListenerError);
  const runEnd = await streamRun(client, record.id, fanout, ctx.signal);
  const final = await client.getRun(record.id);
  const notebook: Notebook = await client.notebook(record.id);
  await endStream(fanout, runEnd, {
    runId: record.id,
    status: final.state as RunStatus,
    started,
    notebook,
  });
  // The reproduction is versioned like any build: its environment is compared with the build's.
  const diff = final.version === null ? null : await client.diff(job, build, record.build);
  return {
    reproduction: record.build,
    runId: record.id,
    status: final.state,
    error: runError(final),
    notebook,
    environment: diff?.environment ?? null,
  };
}

/** Here, from the home's store: nothing is stored. */
async function here(ctx: Context, stderr: NodeJS.WriteStream): Promise<Reproduced> {
  const { reproduceLocally } = await import('./reproduce-local');
  const outcome = await reproduceLocally(ctx.job, ctx.build, {
    home: ctx.flags.home,
    body: ctx.body,
    listeners: ctx.listeners,
    signal: ctx.signal,
    env: ctx.env,
    say: ctx.say,
    warn: (line) => ctx.say(`warning: ${line}`),
    onListenerError: (err) => {
      stderr.write(`nbstage: output sink failed: ${printable((err as Error).message)}\n`);
    },
  });
  return { reproduction: null, ...outcome };
}

/** Runs `nbstage reproduce`; resolves to the exit code. */
export async function reproduceCommand(
  job: string,
  build: string,
  flags: ReproduceFlags,
  io: ReproduceIO = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const { stdout, stderr, env } = io;
  const say = (line: string): void => {
    if (flags.json !== true) {
      stderr.write(`nbstage: ${printable(line)}\n`);
    }
  };
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    say(`${signal}: cancelling the reproduction`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (flags.rtol !== undefined && !(flags.rtol >= 0)) {
      throw new UsageError(`--rtol must be a number >= 0, got ${flags.rtol}`);
    }
    const secrets = parseSecretArgs(flags.secret, env);
    const body: ReproduceRequest = {
      ...(Object.keys(secrets).length === 0 ? {} : { secrets }),
      ...(flags.rtol === undefined ? {} : { rtol: flags.rtol }),
    };
    const written: Partial<Record<keyof FileSinkPaths, string>> = {};
    const listeners = (notebookName: string): RunEventListener[] => [
      ...(flags.json === true
        ? []
        : [createConsoleSink({ stdout, stderr, color: colorWanted(flags, io) })]),
      createFileSink({
        paths: { notebook: flags.output, junit: flags.junit, html: flags.html },
        notebookName,
        onWrite: (kind, file) => {
          written[kind] = file;
        },
      }),
    ];
    const ctx: Context = {
      job,
      build,
      flags,
      body,
      listeners,
      signal: controller.signal,
      env,
      say,
    };
    const remote = (flags.server ?? (env.NBSTAGE_URL || undefined)) !== undefined;
    const done = remote ? await onService(ctx) : await here(ctx, stderr);
    const { error, notebook } = done;
    const name = done.reproduction === null ? 'this run' : `#${done.reproduction}`;
    const environment =
      done.environment === null
        ? []
        : environmentDiffLines(done.environment, { a: `#${build}`, b: name });
    if (flags.json === true) {
      stdout.write(
        `${JSON.stringify({
          job,
          build,
          reproduction: done.reproduction,
          run_id: done.runId,
          status: done.status,
          exit_code: error === null ? ExitCode.ok : error.exitCode,
          error: error === null ? null : { code: error.code, message: error.message },
          checks: notebook.metadata.nbstage?.checks ?? null,
          environment: done.environment,
          files: written,
        })}\n`,
      );
    } else {
      stderr.write(checksReport(notebook));
      if (error !== null) {
        say(error.message);
      }
      say(
        environment.length === 0
          ? `environment: the same as #${build}'s`
          : `environment differences from #${build}:`,
      );
      for (const line of environment) {
        stderr.write(`    ${printable(line)}\n`);
      }
      if (written.notebook !== undefined) {
        say(`executed notebook written to ${written.notebook}`);
      }
    }
    return error === null ? ExitCode.ok : error.exitCode;
  } catch (err) {
    const error = asNbstageError(err);
    if (flags.json === true) {
      stdout.write(
        `${JSON.stringify({ job, build, exit_code: error.exitCode, error: { code: error.code, message: error.message } })}\n`,
      );
    } else {
      stderr.write(`nbstage: ${printable(error.message)}\n`);
    }
    return error.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
