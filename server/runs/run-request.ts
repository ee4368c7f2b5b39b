/**
 * A run as the service receives it (HTTP body, CLI `--server`) and as a queue job carries it to a
 * worker. The JSON schema here is the one the OpenAPI document publishes and ajv enforces, and
 * the one codec between it and the {@link RunSpec} the runner takes.
 */
import type { JSONObject, JSONValue, Notebook } from '../../pipelines/notebook/model';
import type { RunSpec } from '../../pipelines/runner';
import { MIN_MEMORY_BYTES } from '../../pipelines/executor/output-limits';
import type { GitRecord } from '../../pipelines/environment/record';

/** The body of `POST /api/v1/runs`. */
export interface RunRequest {
  /** The notebook (nbformat 4 JSON) or Zeppelin note. */
  notebook: JSONObject;
  /** File name of the notebook; its extension (`.ipynb`, `.zpln`) decides the format. */
  notebookName?: string;
  parameters?: Record<string, JSONValue>;
  /** Secret parameters: environment variables in the kernel, masked everywhere. */
  secrets?: Record<string, string>;
  stages?: string[];
  session?: string;
  kernel?: string;
  job?: string;
  build?: string;
  /** Worker labels the run needs (`gpu`). */
  labels?: string[];
  gpus?: number;
  cellTimeout?: number;
  timeout?: number;
  allowErrors?: boolean;
  /** Most output bytes a cell keeps in the notebook and reports (0: no limit). */
  maxCellOutput?: number;
  /** Most output bytes the run streams and keeps (0: no limit). */
  maxRunOutput?: number;
  /** The Jenkins build that asked for the run (from its environment), linked from the version. */
  jenkins?: JenkinsOrigin;
  /** The files beside the notebook, by content (see {@link WorkspaceRequest}). */
  workspace?: WorkspaceRequest;
  /**
   * The host the run comes from (`NBSTAGE_HOST_ID`, default its host name): a worker of that host
   * with the run's labels takes it before any other (its own GPUs, its own disk).
   */
  hostId?: string;
  /** `stored`, `last-success` or a build of the job: the run's outputs are checked against it. */
  baseline?: string;
  /** Relative tolerance of numbers compared with the baseline. */
  rtol?: number;
  /** Metric gates (`accuracy >= 0.9`, `loss <= baseline * 1.05`). */
  gates?: string[];
  /** The kernel's memory limit in bytes (`--memory`); a cell over it fails naming the limit. */
  memory?: number;
  /**
   * What the caller knows of where the notebook came from: the git state of its checkout (the
   * service's copy of a workspace has none), recorded in `metadata.nbstage.environment.git`.
   */
  source?: { git: GitRecord | null };
}

/**
 * A run's workspace: its manifest, uploaded beforehand as a blob (`PUT /blobs/{sha256}`, the
 * canonical JSON of pipelines/workspace/manifest.ts) with every file it lists; the kernel works
 * in `cwd` inside it; what the run writes there comes back unless `noOutputs`.
 */
export interface WorkspaceRequest {
  /** sha256 of the manifest blob. */
  manifest: string;
  /** The notebook's folder relative to the root, `/`-separated; `.` or absent: the root. */
  cwd?: string;
  /** `--outputs` globs (gitignore syntax): only matching outputs come back. */
  outputs?: string[];
  /** `--no-outputs`: nothing comes back. */
  noOutputs?: boolean;
  /**
   * Run it in place: the caller's folder (on the host of the run) and the label of the worker
   * that runs workspaces under it in place (`nbstage worker --workspace-root`); nothing uploaded.
   */
  inPlace?: { root: string; label: string };
}

/** The Jenkins build a run belongs to, as the agent's environment describes it. */
export interface JenkinsOrigin {
  /** `BUILD_URL`: the build's page. */
  buildUrl?: string;
  /** `BUILD_TAG`: `jenkins-<job>-<number>`. */
  buildTag?: string;
  /** `GIT_COMMIT` of the checkout the notebook came from. */
  gitCommit?: string;
}

const NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

/** The schema of a notebook sent to the service, its file name and its parameters (runs, jobs). */
export const notebookRequestProperties = {
  notebook: { type: 'object', description: 'nbformat 4 notebook or Zeppelin note (JSON)' },
  notebookName: {
    type: 'string',
    minLength: 1,
    maxLength: 255,
    pattern: '^[^/\\\\\\u0000]+$',
    description: 'file name; .zpln or note.json selects Zeppelin',
  },
  parameters: { type: 'object', propertyNames: { pattern: NAME }, maxProperties: 200 },
} as const;

/** JSON schema of {@link RunRequest} (used by the OpenAPI document and ajv). */
export const runRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['notebook'],
  properties: {
    ...notebookRequestProperties,
    secrets: {
      type: 'object',
      propertyNames: { pattern: NAME },
      additionalProperties: { type: 'string', minLength: 1, maxLength: 65536 },
      maxProperties: 50,
    },
    stages: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 200 },
      maxItems: 100,
    },
    session: { type: 'string', minLength: 1, maxLength: 200 },
    kernel: { type: 'string', minLength: 1, maxLength: 200 },
    job: { type: 'string', minLength: 1, maxLength: 1000 },
    build: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    labels: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
      maxItems: 20,
    },
    gpus: { type: 'integer', minimum: 0, maximum: 64 },
    cellTimeout: { type: 'number', exclusiveMinimum: 0 },
    timeout: { type: 'number', exclusiveMinimum: 0 },
    allowErrors: { type: 'boolean' },
    maxCellOutput: {
      type: 'integer',
      minimum: 0,
      description: 'output bytes a cell keeps (0: no limit; default 4 MiB)',
    },
    maxRunOutput: {
      type: 'integer',
      minimum: 0,
      description: 'output bytes the run streams and keeps (0: no limit; default 32 MiB)',
    },
    baseline: {
      type: 'string',
      pattern: '^(stored|last-success|[A-Za-z0-9._-]{1,64})$',
      description:
        "check the outputs against: stored (the outputs saved in the notebook), last-success (the job's newest build that completed with its checks passed) or a build of the job; a difference is NBSTAGE_CHECK_FAILED",
    },
    rtol: {
      type: 'number',
      minimum: 0,
      description: 'relative tolerance of numbers compared with the baseline (default 1e-6)',
    },
    gates: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 500 },
      maxItems: 50,
      description: "metric gates: 'accuracy >= 0.9', 'loss <= baseline * 1.05'",
    },
    memory: {
      type: 'integer',
      minimum: MIN_MEMORY_BYTES,
      description:
        "the kernel's memory limit in bytes (at least 16 MiB); a cell over it fails with a MemoryError naming the limit",
    },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['git'],
      description: "the caller's git state of the notebook's checkout (null: not in one)",
      properties: {
        git: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['commit', 'dirty', 'untracked', 'branch'],
          properties: {
            commit: { type: 'string', pattern: '^[0-9a-f]{40,64}$' },
            dirty: { type: 'boolean' },
            untracked: { type: 'integer', minimum: 0 },
            branch: { type: ['string', 'null'], maxLength: 1000 },
          },
        },
      },
    },
    hostId: {
      type: 'string',
      pattern: '^[A-Za-z0-9._-]{1,59}$',
      description: 'the host the run comes from: a worker of that host takes it first',
    },
    workspace: {
      type: 'object',
      additionalProperties: false,
      required: ['manifest'],
      description: 'the files beside the notebook, uploaded by content before the run',
      properties: {
        manifest: {
          type: 'string',
          pattern: '^[0-9a-f]{64}$',
          description: 'sha256 of the manifest, uploaded as a blob with every file it lists',
        },
        cwd: {
          type: 'string',
          minLength: 1,
          maxLength: 4096,
          description: "the notebook's folder relative to the root ('.' the root)",
        },
        outputs: {
          type: 'array',
          items: { type: 'string', minLength: 1, maxLength: 1000 },
          maxItems: 100,
          description: 'gitignore-style globs: only matching outputs come back',
        },
        noOutputs: { type: 'boolean', description: 'bring nothing back' },
        inPlace: {
          type: 'object',
          additionalProperties: false,
          required: ['root', 'label'],
          description:
            "run in the caller's folder on its own host, by the worker whose label this is (POST /blobs/missing says which)",
          properties: {
            root: { type: 'string', minLength: 2, maxLength: 4096, pattern: '^/' },
            label: { type: 'string', pattern: '^inplace\\.[0-9a-f]{24}$' },
          },
        },
      },
    },
    jenkins: {
      type: 'object',
      additionalProperties: false,
      description: 'the Jenkins build that asked for the run (BUILD_URL, BUILD_TAG, GIT_COMMIT)',
      properties: {
        buildUrl: { type: 'string', maxLength: 2000, pattern: '^https?://' },
        buildTag: { type: 'string', minLength: 1, maxLength: 1000 },
        gitCommit: { type: 'string', pattern: '^[0-9a-fA-F]{7,64}$' },
      },
    },
  },
} as const;

/**
 * The request that runs `spec` on the service: the notebook travels as JSON under its file name;
 * the options that only mean something on this machine (cwd, artifacts, environment) stay here.
 */
export function runRequestOf(
  spec: RunSpec,
  notebook: JSONObject,
  notebookName: string,
  jenkins?: JenkinsOrigin,
): RunRequest {
  return {
    notebook,
    notebookName,
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
    ...(jenkins === undefined ? {} : { jenkins }),
    ...(spec.checks?.baseline === undefined ? {} : { baseline: spec.checks.baseline }),
    ...(spec.checks?.rtol === undefined ? {} : { rtol: spec.checks.rtol }),
    ...(spec.checks?.gates === undefined || spec.checks.gates.length === 0
      ? {}
      : { gates: [...spec.checks.gates] }),
    ...(spec.memoryBytes === undefined ? {} : { memory: spec.memoryBytes }),
  };
}

/** What only the worker running a request knows: where its files are and what it sees. */
export interface RunPlace {
  /** The request's notebook, written to a file. */
  notebookPath: string;
  runId: string;
  /** The kernel's working directory. */
  cwd: string;
  /** The folders a sandboxed kernel may write (one holds `cwd`). */
  writable?: string[];
  artifactsDir: string;
  fullOutputDir: string;
  environment: NodeJS.ProcessEnv;
}

/**
 * The baseline the service found in its store for a run's `last-success` or build, or why there
 * is none; carried to the worker beside the request.
 */
export type ResolvedBaseline =
  { readonly notebook: JSONObject; readonly label: string } | { readonly none: string };

/** The spec a worker runs for `request` (the inverse of {@link runRequestOf}). */
export function runSpecOf(
  request: RunRequest,
  place: RunPlace,
  resolved: ResolvedBaseline | null = null,
): RunSpec {
  const checked =
    request.baseline !== undefined ||
    (request.gates ?? []).length > 0 ||
    request.rtol !== undefined;
  return {
    ...(checked
      ? {
          checks: {
            baseline: request.baseline,
            rtol: request.rtol,
            gates: request.gates ?? [],
            ...(resolved === null
              ? {}
              : 'none' in resolved
                ? { noBaseline: resolved.none }
                : {
                    baselineNotebook: {
                      notebook: resolved.notebook as unknown as Notebook,
                      label: resolved.label,
                    },
                  }),
          },
        }
      : {}),
    ...place,
    // A copy of the workspace has no .git: git must not walk up from it into another checkout;
    // the caller says what its checkout was. In place, the caller's own folder tells it.
    source: {
      ...(request.source !== undefined
        ? { git: request.source.git }
        : request.workspace?.inPlace === undefined
          ? { git: null }
          : {}),
      ...(request.workspace === undefined ? {} : { workspace: request.workspace.manifest }),
    },
    parameters: request.parameters,
    secrets: request.secrets,
    kernel: request.kernel,
    stages: request.stages,
    session: request.session,
    cellTimeoutS: request.cellTimeout,
    runTimeoutS: request.timeout,
    allowErrors: request.allowErrors,
    maxCellOutputBytes: request.maxCellOutput,
    maxRunOutputBytes: request.maxRunOutput,
    job: request.job,
    build: request.build,
    ...(request.memory === undefined ? {} : { memoryBytes: request.memory }),
  };
}
