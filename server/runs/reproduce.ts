/**
 * `nbstage reproduce` on the service: the run request that runs a stored version again as it ran
 * (its notebook, parameters, stages, labels, GPUs, memory limit and run options as recorded, its
 * own fresh kernel even when the build ran in a session,
 * workspace from the content store by the manifest digest it recorded, never today's files), as
 * the next build `<build>-repro-N` of the job, checked against the stored version as a
 * `--baseline` build is. What cannot be had again is refused before anything is queued, naming
 * why: secrets are never stored, so they are asked for again; a workspace run in place never
 * reached the content store.
 */
import { ValidationError } from '../../pipelines/errors';
import type { JSONObject, JSONValue, Notebook } from '../../pipelines/notebook/model';
import { isJSONObject } from '../../pipelines/reports/run-metadata';
import type { GitRecord } from '../../pipelines/environment/record';
import type { Principal } from '../auth/types';
import type { ShownVersion, VersionStore } from '../store/types';
import type { RunManager } from './run-manager';
import type { RunRequest } from './run-request';
import type { RunOptions, RunWorkspace, ServiceRun } from './service-run';

/** The body of `POST /api/v1/jobs/{job}/builds/{build}/reproduce`. */
export interface ReproduceRequest {
  /** The secrets the build ran with (never stored, so sent again), by name. */
  secrets?: Record<string, string>;
  /** Relative tolerance of numbers compared with the stored outputs (default: the build's, else 1e-6). */
  rtol?: number;
}

const NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

/** JSON schema of {@link ReproduceRequest} (the OpenAPI document and ajv). */
export const reproduceRequestSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    secrets: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: { type: 'string', minLength: 1, maxLength: 65536 },
      maxProperties: 50,
      description: 'the secrets the build ran with: never stored, so sent again',
    },
    rtol: {
      type: 'number',
      minimum: 0,
      description:
        "relative tolerance of numbers compared with the stored outputs (default the build's)",
    },
  },
} as const;

const REPRODUCTION = /^(.+)-repro-([1-9][0-9]*)$/;

/**
 * The next reproduction of `build`: `<build>-repro-N`, N one more than the highest among
 * `taken` (the job's stored builds and the runs in flight).
 */
export function nextReproduction(build: string, taken: Iterable<string>): string {
  let highest = 0;
  for (const name of taken) {
    const match = REPRODUCTION.exec(name);
    if (match !== null && match[1] === build) {
      highest = Math.max(highest, Number(match[2]));
    }
  }
  return `${build}-repro-${highest + 1}`;
}

function stringArray(value: JSONValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The recorded run options of a version's run.json (older versions recorded none). */
function recordedOptions(run: JSONObject): RunOptions {
  return isJSONObject(run.options ?? null) ? (run.options as unknown as RunOptions) : {};
}

/** The file name the stored notebook runs under (a Zeppelin note was stored as nbformat). */
function notebookNameOf(run: JSONObject): string {
  const name = typeof run.notebookName === 'string' ? run.notebookName : 'notebook.ipynb';
  return name.endsWith('.ipynb') ? name : `${name.replace(/\.[^.]*$/, '')}.ipynb`;
}

/** The version's workspace request, from its manifest digest; null when it had none. */
function workspaceOf(run: JSONObject, job: string, build: string): RunRequest['workspace'] {
  if (!isJSONObject(run.workspace ?? null)) {
    return undefined;
  }
  const workspace = run.workspace as unknown as RunWorkspace;
  if (workspace.inPlace === true) {
    throw new ValidationError(
      'build',
      `${job} #${build} ran in place, in its caller's folder: its inputs never reached the content store, so it cannot be run again from them`,
    );
  }
  return { manifest: workspace.digest, cwd: workspace.cwd };
}

/**
 * The git state the version recorded: its inputs are those files, by digest, so the reproduction
 * ran from the same checkout (null when it recorded none).
 */
function gitOf(run: JSONObject, notebook: Notebook): GitRecord | null {
  const environment = isJSONObject(run.environment ?? null)
    ? (run.environment as JSONObject)
    : notebook.metadata.nbstage?.environment;
  const git = isJSONObject(environment ?? null) ? (environment as JSONObject).git : null;
  if (!isJSONObject(git ?? null)) {
    return null;
  }
  const { commit, dirty, untracked, branch } = git as JSONObject;
  return typeof commit === 'string' &&
    /^[0-9a-f]{40,64}$/.test(commit) &&
    typeof dirty === 'boolean' &&
    Number.isSafeInteger(untracked) &&
    (branch === null || typeof branch === 'string')
    ? { commit, dirty, untracked: untracked as number, branch }
    : null;
}

/**
 * The request that runs version `shown` (build `build` of `job`) again as build `reproduction`.
 *
 * @throws ValidationError when the build ran with secrets the body does not send again, or in
 *   place
 */
export function reproductionRequest(
  job: string,
  build: string,
  shown: ShownVersion,
  reproduction: string,
  body: ReproduceRequest,
): RunRequest {
  const { run } = shown;
  const missing = stringArray(run.secrets).filter((name) => body.secrets?.[name] === undefined);
  if (missing.length > 0) {
    throw new ValidationError(
      'body.secrets',
      `body.secrets: ${job} #${build} ran with the secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which nbstage never stores: send ${missing.length > 1 ? 'them' : 'it'} again (nbstage reproduce --secret NAME=VALUE)`,
    );
  }
  const options = recordedOptions(run);
  const notebook: Notebook = shown.notebook;
  const gpus = Array.isArray(run.gpus) ? run.gpus.length : options.gpus;
  const workspace = workspaceOf(run, job, build);
  // How the build ran, as recorded; its GPUs come from run.gpus, its checks are this baseline's.
  const { kernel, cellTimeout, timeout, allowErrors, maxCellOutput, maxRunOutput } = options;
  const recorded = Object.fromEntries(
    Object.entries({
      kernel,
      cellTimeout,
      timeout,
      allowErrors,
      maxCellOutput,
      maxRunOutput,
    }).filter(([, value]) => value !== undefined && value !== false),
  );
  return {
    notebook: notebook as unknown as JSONObject,
    notebookName: notebookNameOf(run),
    parameters: isJSONObject(run.parameters ?? null) ? (run.parameters as JSONObject) : {},
    ...(body.secrets === undefined ? {} : { secrets: body.secrets }),
    ...(stringArray(run.stages).length === 0 ? {} : { stages: stringArray(run.stages) }),
    job,
    build: reproduction,
    labels: stringArray(run.labels),
    ...(gpus === undefined || gpus === 0 ? {} : { gpus }),
    ...(typeof run.memory === 'number' ? { memory: run.memory } : {}),
    ...recorded,
    ...(workspace === undefined ? {} : { workspace }),
    source: { git: gitOf(run, notebook) },
    baseline: build,
    ...((body.rtol ?? options.rtol) === undefined ? {} : { rtol: body.rtol ?? options.rtol }),
  };
}

/** What {@link reproduceBuild} needs of the service. */
export interface Reproducer {
  store: VersionStore;
  runs: Pick<RunManager, 'create' | 'list'>;
}

/** Reproductions being named, per job: two at once never take the same `-repro-N`. */
const naming = new Map<string, Promise<unknown>>();

/**
 * Queues a run of stored build `build` of `job` as it ran, as build `<build>-repro-N`.
 *
 * @throws NotFoundError for an unknown job or build; ValidationError when it cannot be run again
 */
export async function reproduceBuild(
  service: Reproducer,
  job: string,
  build: string,
  body: ReproduceRequest,
  principal: Principal,
): Promise<ServiceRun> {
  const before = naming.get(job) ?? Promise.resolve();
  const queued = before.then(async () => {
    const shown = await service.store.show(job, build);
    const stored = (await service.store.listBuilds(job)).map((b) => b.build);
    const inFlight = service.runs.list({ job }).map((r) => r.build);
    const reproduction = nextReproduction(build, [...stored, ...inFlight]);
    const request = reproductionRequest(job, build, shown, reproduction, body);
    return service.runs.create(request, principal, { build, commit: shown.commit });
  });
  const settled = queued.catch(() => undefined);
  naming.set(job, settled);
  void settled.then(() => {
    if (naming.get(job) === settled) {
      naming.delete(job);
    }
  });
  return queued;
}
