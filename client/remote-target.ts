/**
 * The remote run target (`nbstage run --server URL`): the run goes to the nbstage service; its
 * events stream back into the same console, progress and file sinks as an embedded run, and the
 * executed notebook, JUnit and HTML are written locally from the notebook the service returns.
 * Aborting (SIGINT/SIGTERM) cancels the remote run and still writes the partial notebook.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CancelledError, ErrorCode, ValidationError, type NbstageError } from '../pipelines/errors';
import type {
  RunEndEvent,
  RunEvent,
  RunEventListener,
  RunStatus,
} from '../pipelines/executor/events';
import { RunEventFanout, runEndEvent, warnListenerError } from '../pipelines/executor/outcome';
import type { JSONObject, Notebook } from '../pipelines/notebook/model';
import { gitRecord, recordsEnvironment } from '../pipelines/environment/record';
import { writeFileAtomic } from '../pipelines/notebook/io';
import type { RunTarget } from '../pipelines/run-target';
import type { LoadedRun, RunResult } from '../pipelines/runner';
import type { ServiceRun } from '../server/runs/service-run';
import { hostIdOf } from '../server/queue/labels';
import { runRequestOf, type JenkinsOrigin } from '../server/runs/run-request';
import { NbstageClient, remoteError } from './api-client';
import { receiveOutputs, sendWorkspace, type WorkspaceOptions } from './workspace-transfer';

/** Bytes as MiB with one decimal. */
function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Writes a finished run's artifacts under `dir`, keeping their relative names. A name that would
 * leave `dir` (absolute, `..`) is refused: the service never hands one out, but a client does not
 * trust that.
 */
async function downloadArtifacts(
  client: NbstageClient,
  record: ServiceRun,
  dir: string,
): Promise<string[]> {
  const root = path.resolve(dir);
  const written: string[] = [];
  for (const artifact of record.artifacts) {
    const target = path.resolve(root, artifact.name);
    if (path.isAbsolute(artifact.name) || !target.startsWith(`${root}${path.sep}`)) {
      throw new ValidationError('artifacts', `artifact name "${artifact.name}" leaves ${dir}`);
    }
    await writeFileAtomic(target, await client.artifact(record.id, artifact.name));
    written.push(target);
  }
  return written;
}

/** Where and how runs go to the service. */
export interface RemoteTargetOptions {
  url: string;
  token: string;
  /** The Jenkins build asking for the run (recorded in the version, linked from it). */
  jenkins?: JenkinsOrigin;
  /** Where the artifacts the notebook wrote are downloaded to (any status), if anywhere. */
  artifactsDir?: string;
  /** Called with the files written to `artifactsDir`. */
  onArtifacts?: (files: string[]) => void;
  /** Where a failing output sink is reported (default: a process warning). */
  onListenerError?: (err: unknown) => void;
  /** The workspace sent with the run (default: found as DESIGN says); false: none. */
  workspace?: WorkspaceOptions | false;
  /** Told what the workspace transfer did, one line at a time (the CLI prints it on stderr). */
  onWorkspace?: (line: string) => void;
}

/**
 * Streams the events of service run `id` into `fanout` until it ends, cancelling it when
 * `signal` aborts; the run-end event is held back (its notebook is the one the service stored,
 * fetched next) and returned.
 */
export async function streamRun(
  client: NbstageClient,
  id: string,
  fanout: RunEventFanout,
  signal: AbortSignal,
): Promise<RunEndEvent | null> {
  const onAbort = (): void => {
    void client.cancel(id).catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort);
  let runEnd: RunEndEvent | null = null;
  try {
    await client.stream(id, (event) => {
      const e = event as unknown as RunEvent;
      if (e.type === 'run-end') {
        runEnd = e;
      } else {
        fanout.emit(e);
      }
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return runEnd;
}

/** Emits the run's end, with the notebook the service stored, and waits for the sinks. */
export async function endStream(
  fanout: RunEventFanout,
  runEnd: RunEndEvent | null,
  end: { runId: string; status: RunStatus; started: number; notebook: Notebook },
): Promise<void> {
  fanout.emit(
    runEndEvent({
      ...(runEnd ?? { runId: end.runId, status: end.status, durationMs: Date.now() - end.started }),
      notebook: end.notebook,
    }),
  );
  await fanout.settled();
}

/** The error a finished service run ended with, as this side raises it; null for none. */
export function runError(final: ServiceRun): NbstageError | null {
  return final.error === null
    ? null
    : final.error.code === ErrorCode.cancelled
      ? new CancelledError(final.error.message)
      : remoteError(final.error.code, final.error.message);
}

/** Runs on the nbstage service at `options.url`. */
export function remoteTarget(options: RemoteTargetOptions): RunTarget {
  return {
    run: (run, listeners, signal) => executeRemote(run, listeners, signal, options),
    close: () => Promise.resolve(),
  };
}

async function executeRemote(
  run: LoadedRun,
  listeners: RunEventListener[],
  signal: AbortSignal,
  options: RemoteTargetOptions,
): Promise<RunResult> {
  const client = new NbstageClient(options.url, options.token);
  const { spec } = run;
  const notebook = JSON.parse(fs.readFileSync(spec.notebookPath, 'utf8')) as JSONObject;
  const tell = options.onWorkspace ?? ((): void => undefined);
  const sent =
    options.workspace === false
      ? null
      : await sendWorkspace(client, spec.notebookPath, options.workspace ?? {});
  if (sent !== null) {
    tell(
      `workspace ${sent.root}: ${sent.files} files, ${mib(sent.bytes)}; sent ${sent.uploaded} new contents (${mib(sent.uploadedBytes)}), hashed ${sent.hashed}`,
    );
    for (const note of sent.notes) {
      tell(`workspace: ${note}`);
    }
  }
  // The service's copy of the workspace has no .git: this side says what its checkout was.
  const git = recordsEnvironment(process.env)
    ? await gitRecord(sent?.root ?? path.dirname(path.resolve(spec.notebookPath)))
    : null;
  const record = await client.createRun({
    ...runRequestOf(spec, notebook, path.basename(spec.notebookPath), options.jenkins),
    ...(sent === null ? {} : { workspace: sent.request }),
    ...(sent?.request.inPlace === undefined ? { source: { git } } : {}),
    hostId: hostIdOf(process.env),
  });
  // What the service warns of that this side did not already say (a notebook's repairs it did).
  for (const warning of record.warnings ?? []) {
    if (!run.loaded.warnings.includes(warning)) {
      tell(`warning: ${warning}`);
    }
  }
  const started = Date.now();
  const fanout = new RunEventFanout(listeners, options.onListenerError ?? warnListenerError);
  const runEnd = await streamRun(client, record.id, fanout, signal);
  const final = await client.getRun(record.id);
  const nb: Notebook = await client.notebook(record.id);
  if (options.artifactsDir !== undefined) {
    options.onArtifacts?.(await downloadArtifacts(client, final, options.artifactsDir));
  }
  if (sent !== null && sent.request.inPlace !== undefined) {
    tell(
      `workspace: ran in place on this host's worker: ${final.workspace?.outputs.length ?? 0} outputs`,
    );
  } else if (sent !== null && final.workspace !== undefined && final.workspace.outputs.length > 0) {
    const back = await receiveOutputs(client, sent.root, final.workspace);
    tell(
      `workspace: wrote ${back.written.length} outputs: ${back.written.slice(0, 10).join(', ')}${back.written.length > 10 ? ', ...' : ''}`,
    );
    for (const refused of back.refused) {
      tell(`workspace: did not write ${refused.path}: ${refused.reason}`);
    }
  }
  if (sent !== null && final.workspace !== undefined) {
    const made = final.workspace.copy;
    if (made !== undefined) {
      tell(
        `workspace: ${made.reused ? 'the copy an earlier run left on the worker, synced' : 'a new copy on the worker'}: ${made.written} files written, ${made.kept} kept`,
      );
    }
    for (const gone of final.workspace.deleted) {
      tell(`workspace: the run deleted ${gone} (left in place here)`);
    }
    for (const note of final.workspace.notes ?? []) {
      tell(`workspace: ${note}`);
    }
  }
  const status = final.state as RunStatus;
  const error = runError(final);
  await endStream(fanout, runEnd, { runId: record.id, status, started, notebook: nb });
  return {
    runId: record.id,
    status,
    notebook: nb,
    error,
    durationMs: Date.now() - started,
    metrics: final.metrics,
    kernelsUsable: true,
    loaded: run.loaded,
  };
}
