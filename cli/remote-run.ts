/**
 * `nbstage run --server URL`: the run goes to the nbstage service; its events stream back into
 * the same console, progress and file sinks as an embedded run, and the executed notebook, JUnit
 * and HTML are written locally from the notebook the service returns. Aborting (SIGINT/SIGTERM)
 * cancels the remote run and still writes the partial notebook.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CancelledError, ErrorCode, ValidationError } from '../pipelines/errors';
import type { RunEvent, RunEventListener, RunStatus } from '../pipelines/executor/events';
import type { JSONObject, Notebook } from '../pipelines/notebook/model';
import { writeFileAtomic } from '../pipelines/notebook/io';
import type { LoadedRun, RunResult } from '../pipelines/runner';
import type { RunRecord } from '../server/runs/run-manager';
import type { JenkinsOrigin } from '../server/runs/run-request';
import { NbstageClient, remoteError } from '../client/api-client';

/**
 * Writes a finished run's artifacts under `dir`, keeping their relative names. A name that would
 * leave `dir` (absolute, `..`) is refused: the service never hands one out, but a client does not
 * trust that.
 */
async function downloadArtifacts(
  client: NbstageClient,
  record: RunRecord,
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

/** Runs `run` on the service at `url`. */
export async function executeRemote(
  run: LoadedRun,
  options: {
    url: string;
    token: string;
    listeners: RunEventListener[];
    signal: AbortSignal;
    /** The Jenkins build asking for the run (recorded in the version, linked from it). */
    jenkins?: JenkinsOrigin;
    /** Where the artifacts the notebook wrote are downloaded to (any status), if anywhere. */
    artifactsDir?: string;
    /** Called with the files written to `artifactsDir`. */
    onArtifacts?: (files: string[]) => void;
  },
): Promise<RunResult> {
  const client = new NbstageClient(options.url, options.token);
  const { spec } = run;
  const notebook = JSON.parse(fs.readFileSync(spec.notebookPath, 'utf8')) as JSONObject;
  const record = await client.createRun({
    notebook,
    notebookName: path.basename(spec.notebookPath),
    ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
    ...(spec.secrets === undefined || Object.keys(spec.secrets).length === 0
      ? {}
      : { secrets: spec.secrets }),
    ...(spec.stages === undefined || spec.stages.length === 0 ? {} : { stages: spec.stages }),
    ...(spec.session === undefined ? {} : { session: spec.session }),
    ...(spec.kernel === undefined ? {} : { kernel: spec.kernel }),
    ...(spec.job === undefined ? {} : { job: spec.job }),
    ...(spec.build === undefined ? {} : { build: spec.build }),
    ...(spec.cellTimeoutS === undefined ? {} : { cellTimeout: spec.cellTimeoutS }),
    ...(spec.runTimeoutS === undefined ? {} : { timeout: spec.runTimeoutS }),
    ...(spec.allowErrors === true ? { allowErrors: true } : {}),
    ...(spec.maxCellOutputBytes === undefined ? {} : { maxCellOutput: spec.maxCellOutputBytes }),
    ...(spec.maxRunOutputBytes === undefined ? {} : { maxRunOutput: spec.maxRunOutputBytes }),
    ...(options.jenkins === undefined ? {} : { jenkins: options.jenkins }),
  });
  const onAbort = (): void => {
    void client.cancel(record.id).catch(() => undefined);
  };
  options.signal.addEventListener('abort', onAbort);
  const started = Date.now();
  let runEnd: RunEvent | null = null;
  try {
    await client.stream(record.id, (event) => {
      const e = event as unknown as RunEvent;
      if (e.type === 'run-end') {
        runEnd = e;
        return;
      }
      for (const listener of options.listeners) {
        void listener(e);
      }
    });
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
  const final = await client.getRun(record.id);
  const nb: Notebook = await client.notebook(record.id);
  if (options.artifactsDir !== undefined) {
    options.onArtifacts?.(await downloadArtifacts(client, final, options.artifactsDir));
  }
  const status = final.state as RunStatus;
  const error =
    final.error === null
      ? null
      : final.error.code === ErrorCode.cancelled
        ? new CancelledError(final.error.message)
        : remoteError(final.error.code, final.error.message);
  const end: RunEvent = {
    ...((runEnd ?? {
      type: 'run-end',
      runId: record.id,
      at: new Date().toISOString(),
      status,
      durationMs: Date.now() - started,
    }) as RunEvent & { type: 'run-end' }),
    notebook: nb,
  };
  for (const listener of options.listeners) {
    await listener(end);
  }
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
