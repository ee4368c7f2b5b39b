/**
 * A run as the service knows it: the record kept in `<home>/runs/<id>/run.json` and answered by
 * `GET /api/v1/runs/{id}` (not the version store's run.json, built in store/run-record.ts).
 */
import path from 'node:path';
import { RUN_STATUSES } from '../../pipelines/executor/events';
import { writeFileAtomic } from '../../pipelines/notebook/io';
import type { JSONObject } from '../../pipelines/notebook/model';
import type { JenkinsOrigin, RunRequest } from './run-request';

/** Where a run is. `queued`/`running` while in flight; the run's own status once finished. */
export type RunState =
  'queued' | 'running' | 'completed' | 'failed' | 'timeout' | 'kernel_died' | 'cancelled' | 'error';

/** Why a run failed: a stable `NBSTAGE_...` code and a message. */
export interface RunFailure {
  code: string;
  message: string;
}

/** What the service knows about a run (also its run.json and the API's run resource). */
export interface ServiceRun {
  id: string;
  state: RunState;
  job: string;
  build: string;
  notebookName: string;
  stages: string[];
  session: string | null;
  labels: string[];
  parameters: JSONObject;
  secrets: string[];
  createdAt: string;
  createdBy: string;
  startedAt: string | null;
  finishedAt: string | null;
  workerId: string | null;
  exitCode: number | null;
  error: RunFailure | null;
  metrics: JSONObject;
  version: { commit: string; tag: string } | null;
  artifacts: { name: string; size: number; sha256: string }[];
  /**
   * Files the notebook wrote into its artifacts folder that were not kept, and why (a name the
   * store cannot hold, over the size limit); the run and its other artifacts are unaffected.
   */
  artifactsSkipped?: { name: string; reason: string }[];
  /** GPUs the run held: model, driver, memory and peak memory used (from the worker). */
  gpus?: JSONObject[];
  /** The Jenkins build that asked for the run, when one did (its page, tag and commit). */
  jenkins?: JenkinsOrigin;
  /** What the notebook had that nbformat only warns about, and how it was repaired. */
  warnings?: string[];
  /** The run's workspace: its inputs by digest and, once it ended, what it wrote. */
  workspace?: RunWorkspace;
  /** The host whose worker was asked to take the run (affinity), when one was. */
  host?: string;
  /**
   * What the run's outputs and metrics were checked against and the verdict (the executed
   * notebook's `metadata.nbstage.checks`); `last-success` skips builds whose `passed` is false.
   */
  checks?: JSONObject;
  /** The kernel's memory limit in bytes, when the request set one (`memory`). */
  memory?: number;
  /** How the request asked the run to go, as far as it did (what `nbstage reproduce` repeats). */
  options?: RunOptions;
  /** The build this run reproduces (`nbstage reproduce`): its job's build and commit. */
  reproduces?: { build: string; commit: string };
}

/** The request's fields that say how a run goes, kept so that the run can be reproduced. */
export const RUN_OPTION_FIELDS = [
  'kernel',
  'gpus',
  'cellTimeout',
  'timeout',
  'allowErrors',
  'maxCellOutput',
  'maxRunOutput',
  'rtol',
  'gates',
] as const satisfies readonly (keyof RunRequest)[];

/** What a request set of {@link RUN_OPTION_FIELDS}. */
export type RunOptions = Pick<RunRequest, (typeof RUN_OPTION_FIELDS)[number]>;

/** A file or symlink a run created or changed in its workspace (path relative to the root). */
export type WorkspaceOutput =
  | { path: string; type: 'file'; sha256: string; size: number; mode: number }
  | { path: string; type: 'symlink'; target: string };

/** The workspace part of a run's record (and of the version's run.json). */
export interface RunWorkspace {
  /** sha256 of the manifest (the version keeps it as `inputs.json`). */
  digest: string;
  files: number;
  bytes: number;
  /** The kernel's folder relative to the root. */
  cwd: string;
  /** What the run created or changed, by content; empty until it ended (and with noOutputs). */
  outputs: WorkspaceOutput[];
  /** Manifest paths the run deleted: listed, never deleted in the caller's workspace. */
  deleted: string[];
  /** Outputs not kept, and why (a name that is not UTF-8, over a limit). */
  notes?: string[];
  /**
   * How the worker made the copy: a kept tree of the job (or session) reused and synced, and the
   * files it wrote and kept doing so.
   */
  copy?: { reused: boolean; written: number; kept: number };
  /** It ran in the caller's folder, on the worker of the caller's host (no copy, no upload). */
  inPlace?: boolean;
}

/** What a run is created with; everything else about it starts empty. */
export type NewRunFields = Pick<
  ServiceRun,
  | 'id'
  | 'job'
  | 'build'
  | 'notebookName'
  | 'stages'
  | 'session'
  | 'labels'
  | 'parameters'
  | 'secrets'
  | 'createdAt'
  | 'createdBy'
  | 'jenkins'
  | 'warnings'
  | 'workspace'
  | 'memory'
  | 'options'
  | 'reproduces'
>;

/** The record of a run just admitted: `queued`, not yet started, run or versioned. */
export function queuedServiceRun(fields: NewRunFields): ServiceRun {
  const { jenkins, warnings = [], workspace, memory, options, reproduces } = fields;
  return {
    id: fields.id,
    state: 'queued',
    job: fields.job,
    build: fields.build,
    notebookName: fields.notebookName,
    stages: fields.stages,
    session: fields.session,
    labels: fields.labels,
    parameters: fields.parameters,
    secrets: fields.secrets,
    createdAt: fields.createdAt,
    createdBy: fields.createdBy,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    exitCode: null,
    error: null,
    metrics: {},
    version: null,
    artifacts: [],
    ...(jenkins === undefined ? {} : { jenkins }),
    ...(warnings.length === 0 ? {} : { warnings }),
    ...(workspace === undefined ? {} : { workspace }),
    ...(memory === undefined ? {} : { memory }),
    ...(options === undefined || Object.keys(options).length === 0 ? {} : { options }),
    ...(reproduces === undefined ? {} : { reproduces }),
  };
}

/** True once a run has ended (its state is one of the run statuses). */
export function isFinished(state: RunState): boolean {
  return (RUN_STATUSES as readonly string[]).includes(state);
}

/** Writes a run's record to `run.json` in its folder (atomically). */
export async function saveServiceRun(dir: string, record: ServiceRun): Promise<void> {
  await writeFileAtomic(path.join(dir, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
}
