/**
 * Ending a run on the service: its status from the worker's result (or from its failure, when no
 * kernel ended it), the executed notebook written, the artifacts the store can hold kept, and one
 * version committed, whatever the status. Persist first, then report.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, asNbstageError } from '../../pipelines/errors';
import { zeppelinToNotebook, validateZeppelinNote } from '../../pipelines/formats/zeppelin';
import { serializeNotebook, writeFileAtomic } from '../../pipelines/notebook/io';
import type { JSONObject, JSONValue, Notebook } from '../../pipelines/notebook/model';
import { validateArtifactName } from '../store/artifact-store';
import type { VersionStore } from '../store/types';
import { endRunOutsideKernel } from './end-outside-kernel';
import type { ArtifactPayload, SkippedArtifact } from './run-job';
import {
  saveServiceRun,
  type RunFailure,
  type RunState,
  type RunWorkspace,
  type ServiceRun,
  type WorkspaceOutput,
} from './service-run';
import type { BlobSource } from '../../pipelines/workspace/blob-dir';
import { relativePathProblem } from '../../pipelines/paths/relative-path';
import { detectFormat } from '../../pipelines/formats/detect';

/** What {@link finishRun} needs besides the run. */
export interface RunFinishing {
  store: VersionStore;
  /** The content store a run's workspace manifest is read from (for the version's inputs.json). */
  blobs?: BlobSource;
  log?: (msg: string, fields?: JSONObject) => void;
}

/**
 * The notebook a run was asked to execute, as nbformat: what stands for a run of which nothing
 * ran.
 */
export function inputNotebook(dir: string, record: ServiceRun): Notebook {
  const input = JSON.parse(
    fs.readFileSync(path.join(dir, `input-${record.notebookName}`), 'utf8'),
  ) as JSONObject;
  return detectFormat(record.notebookName, input) === 'zeppelin'
    ? zeppelinToNotebook(validateZeppelinNote(input, record.notebookName))
    : (input as unknown as Notebook);
}

/**
 * The artifacts of a worker's result the store can hold, and the rest with the reason: those the
 * worker already skipped, plus any whose name the store refuses (`back\\slash.txt`) or that is
 * listed twice. One bad artifact never costs the run its version or the other artifacts.
 */
function keptArtifacts(
  payloads: ArtifactPayload[],
  skippedByWorker: SkippedArtifact[],
): { kept: ArtifactPayload[]; skipped: SkippedArtifact[] } {
  const kept: ArtifactPayload[] = [];
  const skipped = [...skippedByWorker];
  const names = new Set<string>();
  for (const a of payloads) {
    try {
      validateArtifactName(a.name, 'artifact');
    } catch (err) {
      skipped.push({ name: a.name, reason: asNbstageError(err).message });
      continue;
    }
    if (names.has(a.name)) {
      skipped.push({ name: a.name, reason: 'listed twice' });
      continue;
    }
    names.add(a.name);
    kept.push(a);
  }
  return { kept, skipped };
}

/**
 * The outputs a worker reported for a run's workspace, those that are well formed (a worker's
 * result is checked like any input): the others are dropped with a note.
 */
function workspaceResult(value: JSONValue | undefined): Partial<RunWorkspace> {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {};
  }
  const raw = value as { outputs?: unknown; deleted?: unknown; notes?: unknown; copy?: unknown };
  const copy = raw.copy as RunWorkspace['copy'] | undefined;
  const made =
    copy !== undefined &&
    typeof copy?.reused === 'boolean' &&
    Number.isSafeInteger(copy.written) &&
    Number.isSafeInteger(copy.kept)
      ? { copy: { reused: copy.reused, written: copy.written, kept: copy.kept } }
      : {};
  const notes = Array.isArray(raw.notes) ? raw.notes.filter((n) => typeof n === 'string') : [];
  const outputs: WorkspaceOutput[] = [];
  for (const entry of Array.isArray(raw.outputs) ? (raw.outputs as WorkspaceOutput[]) : []) {
    const problem =
      typeof entry?.path !== 'string'
        ? 'no path'
        : relativePathProblem(entry.path, { folder: 'the workspace', maxLength: 4096 });
    const ok =
      problem === null &&
      ((entry.type === 'file' &&
        /^[0-9a-f]{64}$/.test(String(entry.sha256)) &&
        Number.isSafeInteger(entry.size) &&
        Number.isSafeInteger(entry.mode)) ||
        (entry.type === 'symlink' && typeof entry.target === 'string'));
    if (ok) {
      outputs.push(entry);
    } else {
      notes.push(`an output the worker reported was dropped: ${problem ?? 'malformed'}`);
    }
  }
  const deleted = Array.isArray(raw.deleted)
    ? raw.deleted.filter((d): d is string => typeof d === 'string')
    : [];
  return { outputs, deleted, ...(notes.length === 0 ? {} : { notes }), ...made };
}

/** The manifest of a run's workspace as stored, for the version's inputs.json. */
function manifestText(record: ServiceRun, blobs: BlobSource | undefined): string | undefined {
  const file =
    record.workspace === undefined ? null : (blobs?.path(record.workspace.digest) ?? null);
  return file === null ? undefined : fs.readFileSync(file, 'utf8');
}

/** Sets how the run ended: from the worker's result, else as a run no kernel ended. */
function endRun(
  record: ServiceRun,
  notebook: Notebook,
  result: JSONObject | null,
  failure: RunFailure | null,
): void {
  const status = (result?.status ?? undefined) as RunState | undefined;
  if (result === null || status === undefined) {
    endRunOutsideKernel(record, failure, result === null ? notebook : undefined);
  } else {
    record.state = status;
    record.finishedAt = new Date().toISOString();
  }
  if (result !== null) {
    record.error = (result.error as RunFailure | null | undefined) ?? failure ?? null;
  }
  record.exitCode = typeof result?.exitCode === 'number' ? result.exitCode : null;
  record.metrics = (result?.metrics as JSONObject | undefined) ?? {};
  if (Array.isArray(result?.gpus) && result.gpus.length > 0) {
    record.gpus = result.gpus as JSONObject[];
  }
  if (record.workspace !== undefined) {
    Object.assign(record.workspace, workspaceResult(result?.workspace));
  }
  const checks = (result?.notebook as Notebook | undefined)?.metadata?.nbstage?.checks;
  if (checks !== null && typeof checks === 'object' && !Array.isArray(checks)) {
    record.checks = checks;
  }
}

/** Writes the kept artifacts into `<dir>/artifacts` for the store; records what was kept. */
function stageArtifacts(
  record: ServiceRun,
  dir: string,
  result: JSONObject | null,
  options: RunFinishing,
): { name: string; path: string }[] {
  const files: { name: string; path: string }[] = [];
  const { kept, skipped } = keptArtifacts(
    (result?.artifacts as unknown as ArtifactPayload[] | undefined) ?? [],
    (result?.artifactsSkipped as unknown as SkippedArtifact[] | undefined) ?? [],
  );
  if (kept.length > 0) {
    const adir = path.join(dir, 'artifacts');
    for (const a of kept) {
      const file = path.join(adir, `${files.length}`);
      fs.mkdirSync(adir, { recursive: true });
      fs.writeFileSync(file, Buffer.from(a.base64, 'base64'));
      files.push({ name: a.name, path: file });
    }
    record.artifacts = kept.map((a) => ({
      name: a.name,
      size: a.size,
      sha256: createHash('sha256').update(Buffer.from(a.base64, 'base64')).digest('hex'),
    }));
  }
  if (skipped.length > 0) {
    record.artifactsSkipped = skipped;
    options.log?.('artifacts skipped', {
      run: record.id,
      skipped: skipped as unknown as JSONValue,
    });
  }
  return files;
}

/**
 * run.json of a version: the record, plus `status` and `duration` (seconds) as the store reads
 * them, and the environment the executed (masked) notebook recorded, so that a reader of the
 * store finds what produced a version without parsing its notebook.
 */
function versionRunJson(record: ServiceRun, notebook: Notebook): JSONObject {
  const started = record.startedAt === null ? null : Date.parse(record.startedAt);
  const finished = record.finishedAt === null ? null : Date.parse(record.finishedAt);
  const environment = notebook.metadata?.nbstage?.environment;
  return {
    ...(record as unknown as JSONObject),
    status: record.state,
    duration: started === null || finished === null ? null : (finished - started) / 1000,
    ...(environment !== null && typeof environment === 'object' && !Array.isArray(environment)
      ? { environment }
      : {}),
  };
}

/**
 * Ends a run: sets its end on the record, writes the executed notebook into its folder `dir`,
 * commits one version with its artifacts, and saves run.json. A failed commit is kept as the
 * run's error (unless it has one), never thrown.
 *
 * @param notebook - the executed notebook (from the result, or the partial one from the run's
 *   events, or the input when nothing ran)
 * @param result - what the worker's handler resolved with, or null when it gave nothing
 * @param failure - why the run failed, when the queue says it did
 */
export async function finishRun(
  record: ServiceRun,
  dir: string,
  notebook: Notebook,
  result: JSONObject | null,
  failure: RunFailure | null,
  options: RunFinishing,
): Promise<void> {
  endRun(record, notebook, result, failure);
  await writeFileAtomic(path.join(dir, 'executed.ipynb'), serializeNotebook(notebook));
  const artifacts = stageArtifacts(record, dir, result, options);
  try {
    const version = await options.store.commitRun({
      job: record.job,
      build: record.build,
      runId: record.id,
      stage: record.stages.length > 0 ? record.stages.join('+') : null,
      notebook,
      run: versionRunJson(record, notebook),
      artifacts,
      author: record.createdBy,
      inputs: manifestText(record, options.blobs),
    });
    record.version = { commit: version.commit, tag: version.tag };
  } catch (err) {
    record.error ??= {
      code: ErrorCode.internal,
      message: `versioning failed: ${(err as Error).message}`,
    };
  }
  fs.rmSync(path.join(dir, 'artifacts'), { recursive: true, force: true });
  await saveServiceRun(dir, record);
}
