/**
 * `nbstage submit <notebook> --job NAME`: the notebook goes to the nbstage service, which
 * creates or updates the Jenkins Pipeline job and triggers it; this command then follows the
 * submission (queue item, then build) and streams the build's Jenkins console to stdout as it
 * grows. Exit 0 on SUCCESS, 1 on FAILURE/UNSTABLE/NOT_BUILT, 130 on ABORTED or a cancelled queue
 * item, 5 when the service or Jenkins cannot be reached, 2 on bad input. SIGINT/SIGTERM cancel
 * what was started (the queue item, or the running build, through the service), print the rest
 * of the console for up to 10 s, and exit 130.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, ExitCode, NbstageError, NotebookInvalidError } from '../pipelines/errors';
import type { JSONObject } from '../pipelines/notebook/model';
import { readNotebookFile } from '../pipelines/notebook/io';
import { parseParameterArgs } from '../pipelines/parameters/parse';
import { NbstageClient, remoteError } from '../client/api-client';
import type { Submission } from '../server/jobs/submit-request';
import { serviceOf } from './service-target';

/** Flags of `nbstage submit`. */
export interface SubmitFlags {
  job: string;
  server?: string;
  parameter: string[];
  rawParameter: string[];
  agent?: string;
}

/** Where the command writes and which signals it listens to (tests pass their own). */
export interface SubmitIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Milliseconds between two looks at the submission and the console (default 250). */
  pollMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function terminal(s: Submission): boolean {
  return s.state === 'finished' || s.state === 'cancelled' || s.state === 'error';
}

/** Submits and follows; resolves to the exit code. */
export async function submitCommand(
  notebook: string,
  flags: SubmitFlags,
  io: SubmitIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const say = (line: string): void => {
    io.stderr.write(`nbstage: ${line}\n`);
  };
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { url, token } = serviceOf(flags.server, io.env);
    const parameters = parseParameterArgs(flags.parameter, flags.rawParameter);
    // Validated here first, so that a broken notebook never reaches the service.
    await readNotebookFile(notebook);
    let raw: JSONObject;
    try {
      raw = JSON.parse(await readFile(notebook, 'utf8')) as JSONObject;
    } catch (err) {
      throw new NotebookInvalidError(`${notebook}: ${(err as Error).message}`);
    }
    const client = new NbstageClient(url, token);
    const s = await client.submitJob({
      job: flags.job,
      notebook: raw,
      notebookName: path.basename(notebook),
      ...(Object.keys(parameters).length === 0 ? {} : { parameters }),
      ...(flags.agent === undefined ? {} : { agent: flags.agent }),
    });
    say(`${s.created ? 'created' : 'updated'} Jenkins job "${s.job}"; queue item ${s.queueItem}`);
    const final = await follow(client, s, controller.signal, io, say);
    return outcome(final, controller.signal.aborted, say);
  } catch (err) {
    if (err instanceof NbstageError) {
      say(err.message);
      return err.exitCode;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Follows a submission until it ends, writing the build's console as it grows. After an abort
 * it cancels the submission once and follows for 10 s more.
 */
async function follow(
  client: NbstageClient,
  first: Submission,
  signal: AbortSignal,
  io: SubmitIo,
  say: (line: string) => void,
): Promise<Submission> {
  let s = first;
  let offset = 0;
  let consoleDone = false;
  let announced = false;
  let deadline = Number.POSITIVE_INFINITY;
  const quiet = new AbortController();
  for (;;) {
    if (signal.aborted && deadline === Number.POSITIVE_INFINITY) {
      deadline = Date.now() + 10_000;
      say(s.build === null ? 'cancelling the queue item' : `stopping build #${s.build}`);
      await client.cancelSubmission(s.job, s.id).catch((err: unknown) => {
        say(`could not cancel: ${(err as Error).message}`);
      });
    }
    s = await client.submission(s.job, s.id);
    if (s.build !== null && !announced) {
      announced = true;
      say(`build #${s.build}${s.buildUrl === null ? '' : ` ${s.buildUrl}`}`);
    }
    if (s.build !== null && !consoleDone) {
      // Read until Jenkins has nothing more right now, so a finished build's tail comes at once.
      for (;;) {
        const chunk = await client.buildConsole(s.job, s.build, offset);
        io.stdout.write(chunk.text);
        offset = chunk.size;
        consoleDone = !chunk.more;
        if (chunk.text === '' || consoleDone) {
          break;
        }
      }
    }
    if (terminal(s) && (s.build === null || consoleDone)) {
      return s;
    }
    if (Date.now() > deadline) {
      return s;
    }
    await sleep(io.pollMs ?? 250, signal.aborted ? quiet.signal : signal);
  }
}

/** The exit code of a followed submission, with a line on stderr. */
function outcome(s: Submission, aborted: boolean, say: (line: string) => void): number {
  const where = s.versionUrl === null ? '' : ` (version: ${s.versionUrl})`;
  if (s.state === 'finished') {
    say(`build #${s.build} of "${s.job}" finished: ${s.result}${where}`);
    if (s.result === 'SUCCESS') {
      return ExitCode.ok;
    }
    return s.result === 'ABORTED' ? ExitCode.cancelled : ExitCode.cellFailed;
  }
  if (s.state === 'cancelled' || s.state === 'error') {
    const err = remoteError(s.error?.code ?? ErrorCode.internal, s.error?.message ?? s.state);
    say(err.message);
    return err.exitCode;
  }
  say(
    aborted
      ? `stopped following "${s.job}" (${s.state}); Jenkins did not confirm the cancellation within 10 s`
      : `"${s.job}" is ${s.state}`,
  );
  return ExitCode.cancelled;
}
