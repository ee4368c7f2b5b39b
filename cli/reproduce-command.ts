/**
 * `nbstage reproduce <job> <build>`: runs a stored build again on the service as it ran (its
 * notebook, parameters, stages, labels and memory limit as recorded, its inputs from the
 * content store by digest, never today's files) as the job's next build `<build>-repro-N`,
 * streams it to the console like `nbstage run --server`, then says whether its outputs match the
 * stored ones (the baseline check against the build) and what differs in the environment that
 * ran it (packages added, removed, changed; interpreter, machine, git). Exit 0 when every cell
 * matches, 6 when one differs (named), else the run's own exit code.
 */
import { ExitCode, UsageError, asNbstageError } from '../pipelines/errors';
import { RunEventFanout, warnListenerError } from '../pipelines/executor/outcome';
import type { RunEventListener, RunStatus } from '../pipelines/executor/events';
import type { Notebook } from '../pipelines/notebook/model';
import { parseSecretArgs } from '../pipelines/parameters/parse';
import { environmentDiffLines } from '../pipelines/environment/diff';
import { createConsoleSink } from '../pipelines/sinks/console-sink';
import { createFileSink, type FileSinkPaths } from '../pipelines/sinks/file-sink';
import { printable } from './printable';
import { checksReport } from './run-command';
import { serviceOf } from './service-target';

/** The flags of `nbstage reproduce`. */
export interface ReproduceFlags {
  server?: string;
  secret: string[];
  rtol?: number;
  output?: string;
  junit?: string;
  html?: string;
  json?: boolean;
  color?: boolean;
}

/** Streams and environment the command uses (tests inject their own). */
export interface ReproduceIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

function colorWanted(flags: ReproduceFlags, io: ReproduceIO): boolean {
  if (flags.color !== undefined) {
    return flags.color;
  }
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') {
    return false;
  }
  return io.stdout.isTTY === true;
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
    const { url, token } = serviceOf(flags.server, env);
    if (flags.rtol !== undefined && !(flags.rtol >= 0)) {
      throw new UsageError(`--rtol must be a number >= 0, got ${flags.rtol}`);
    }
    const secrets = parseSecretArgs(flags.secret, env);
    const { NbstageClient } = await import('../client/api-client');
    const { endStream, runError, streamRun } = await import('../client/remote-target');
    const client = new NbstageClient(url, token);
    const record = await client.reproduce(job, build, {
      ...(Object.keys(secrets).length === 0 ? {} : { secrets }),
      ...(flags.rtol === undefined ? {} : { rtol: flags.rtol }),
    });
    say(
      `reproducing ${job} #${build} as #${record.build} (run ${record.id}): its stored notebook, parameters and inputs`,
    );
    const listeners: RunEventListener[] = [];
    if (flags.json !== true) {
      listeners.push(createConsoleSink({ stdout, stderr, color: colorWanted(flags, io) }));
    }
    const paths: FileSinkPaths = { notebook: flags.output, junit: flags.junit, html: flags.html };
    const written: Partial<Record<keyof FileSinkPaths, string>> = {};
    listeners.push(
      createFileSink({
        paths,
        notebookName: record.notebookName,
        onWrite: (kind, file) => {
          written[kind] = file;
        },
      }),
    );
    const started = Date.now();
    const fanout = new RunEventFanout(listeners, warnListenerError);
    const runEnd = await streamRun(client, record.id, fanout, controller.signal);
    const final = await client.getRun(record.id);
    const notebook: Notebook = await client.notebook(record.id);
    await endStream(fanout, runEnd, {
      runId: record.id,
      status: final.state as RunStatus,
      started,
      notebook,
    });
    const error = runError(final);
    // The reproduction is versioned like any build: its environment is compared with the build's.
    const diff = final.version === null ? null : await client.diff(job, build, record.build);
    const environment =
      diff === null
        ? []
        : environmentDiffLines(diff.environment, { a: `#${build}`, b: `#${record.build}` });
    if (flags.json === true) {
      stdout.write(
        `${JSON.stringify({
          job,
          build,
          reproduction: record.build,
          run_id: record.id,
          status: final.state,
          exit_code: error === null ? ExitCode.ok : error.exitCode,
          error: error === null ? null : { code: error.code, message: error.message },
          checks: notebook.metadata.nbstage?.checks ?? null,
          environment: diff?.environment ?? null,
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
