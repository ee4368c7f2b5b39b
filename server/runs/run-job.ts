/**
 * What a worker does with one queued run: write the notebook into its work folder, run it on the
 * worker's kernels, forward the run's events to the service in small batches (through the queue's
 * progress channel, so this works the same in-process and across hosts), and resolve with the
 * executed notebook and the artifacts the notebook wrote. A cancelled job aborts the run. The
 * run's secrets are masked in all of it: the executor masks the events, the notebook, the metrics
 * and the error; artifact names and what the handler throws are masked here.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import type { KernelProvider } from '../../kernels/provider';
import { UsageError, ValidationError, asNbstageError } from '../../pipelines/errors';
import type { RunEvent, RunEventListener } from '../../pipelines/executor/events';
import { FULL_OUTPUT_DIR, resolveOutputLimits } from '../../pipelines/executor/output-limits';
import type { JSONObject, JSONValue } from '../../pipelines/notebook/model';
import { maskError } from '../../pipelines/executor/outcome';
import { executeRun, loadRun } from '../../pipelines/runner';
import { Masker } from '../../pipelines/secrets/mask';
import type { JobContext, JobHandler } from '../queue/types';
import { validateArtifactName } from '../store/artifact-store';
import { runRequestSchema, runSpecOf, type ResolvedBaseline, type RunRequest } from './run-request';
import {
  checkoutWorkspace,
  releaseWorkspace,
  workspaceOutputs,
  type WorkspaceCopy,
} from './run-job-workspace';
import type { WorkspaceTrees } from '../workers/workspace-trees';
import type { WorkspaceContent } from '../workers/workspace-content';
import { openSecrets, openValue, type SecretKey } from './secret-box';
import {
  gpuDeviceNodes,
  gpuSampleMs,
  recordCellGpuPeaks,
  samplePeakMemory,
  type CommandRunner,
  type GpuAllocator,
  type GpuLease,
} from '../workers/gpus';

/** What a run job's handler needs on the worker. */
export interface RunJobOptions {
  provider: KernelProvider;
  /** Folder for runs' files on this worker (one subfolder per run, removed afterwards). */
  workDir: string;
  /**
   * Largest total size of the artifacts a run may return (bytes; default
   * `NBSTAGE_MAX_ARTIFACT_BYTES`, else 64 MiB). Files past it are skipped with a note.
   */
  maxArtifactBytes?: number;
  /** Environment variables a run's kernel gets on top of the worker's. */
  environment?: () => NodeJS.ProcessEnv;
  /** The worker's GPUs: a run gets `payload.gpus` of them exclusively (CUDA_VISIBLE_DEVICES). */
  gpus?: GpuAllocator;
  /** Runs nvidia-smi to sample the GPUs' memory (default the real one; tests pass a fake). */
  commandRunner?: CommandRunner;
  /** Opens the secrets the service sealed into the job. */
  secretKey?: SecretKey;
  /** Where runs' workspaces come from and their outputs go; none: runs with one are refused. */
  content?: WorkspaceContent;
  /**
   * The worker's kept workspace trees: a run gets the tree the last run of its job (or its
   * session) left, synced to its manifest; none: a fresh copy per run.
   */
  trees?: WorkspaceTrees;
  /** Folders whose workspaces this worker runs in place (`--workspace-root`, real paths). */
  workspaceRoots?: string[];
}

/** One artifact as the job result carries it. */
export interface ArtifactPayload {
  name: string;
  size: number;
  base64: string;
}

/** `spec.control` of a job that only closes its session. */
export const SESSION_CLOSE = 'close-session';

const validateRequest = new Ajv({ allErrors: false }).compile(runRequestSchema);

/** A file name for the notebook in the work folder (no path, a known extension). */
export function notebookFileName(name: string | undefined): string {
  const base = path.basename(name ?? 'notebook.ipynb').replace(/[^A-Za-z0-9._ -]/g, '_');
  return /\.(ipynb|zpln|json)$/.test(base) ? base : `${base || 'notebook'}.ipynb`;
}

/** Batches run events into progress messages: at most every 50 ms, in order. */
export function eventForwarder(send: (data: JSONObject) => Promise<void>): {
  listener: RunEventListener;
  flush(): Promise<void>;
} {
  let buffer: JSONObject[] = [];
  let bytes = 0;
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  const flush = (): Promise<void> => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (buffer.length > 0) {
      const batch = buffer;
      buffer = [];
      bytes = 0;
      chain = chain.then(() => send({ events: batch })).catch(() => undefined);
    }
    return chain;
  };
  const listener = (event: RunEvent): void => {
    // The executed notebook travels once, in the job's result, not in the event stream.
    const forwarded = (event.type === 'run-end'
      ? { ...event, notebook: undefined }
      : event) as unknown as JSONObject;
    buffer.push(forwarded);
    bytes += event.type === 'output' ? JSON.stringify(event.output).length : 200;
    if (bytes > 256 * 1024 || event.type === 'run-end' || event.type === 'run-start') {
      void flush();
    } else if (timer === null) {
      timer = setTimeout(() => void flush(), 50);
    }
  };
  return { listener, flush };
}

/** An artifact the worker did not return, and why (its name, its size). */
export interface SkippedArtifact {
  name: string;
  reason: string;
}

/** The default of {@link RunJobOptions.maxArtifactBytes}: 64 MiB. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;
/** The environment variable of the worker that sets {@link RunJobOptions.maxArtifactBytes}. */
export const MAX_ARTIFACT_BYTES_ENV = 'NBSTAGE_MAX_ARTIFACT_BYTES';

/**
 * The artifacts limit of this worker: `NBSTAGE_MAX_ARTIFACT_BYTES` (bytes) when set and not
 * empty, else 64 MiB.
 *
 * @throws UsageError when the variable is not a positive integer
 */
export function maxArtifactBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[MAX_ARTIFACT_BYTES_ENV];
  if (raw === undefined || raw.trim() === '') {
    return DEFAULT_MAX_ARTIFACT_BYTES;
  }
  if (!/^\s*[1-9]\d*\s*$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(
      `${MAX_ARTIFACT_BYTES_ENV}: must be a positive number of bytes, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

function mib(bytes: number): string {
  return bytes < 1048576 ? `${bytes} bytes` : `${Math.round((bytes / 1048576) * 10) / 10} MiB`;
}

/**
 * The files under `dir`, in name order, as the job result carries them. Files that would take
 * the total past `limit` are skipped (each with a note), as are names the version store cannot
 * hold; the others are still returned, named `prefix` + their path under `dir`, with the secrets
 * of `masker` masked (a name that, masked, is that of an earlier file is skipped). Never throws:
 * whatever cannot be read is a note.
 */
export function collectArtifacts(
  dir: string,
  limit: number,
  prefix = '',
  masker: Masker = new Masker([]),
): { artifacts: ArtifactPayload[]; skipped: SkippedArtifact[] } {
  const artifacts: ArtifactPayload[] = [];
  const skipped: SkippedArtifact[] = [];
  const names = new Set<string>();
  const skip = (name: string, reason: string): void => {
    skipped.push({ name: masker.mask(name), reason: masker.mask(reason) });
  };
  let total = 0;
  const walk = (sub: string): void => {
    const entries = fs
      .readdirSync(path.join(dir, sub), { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      try {
        if (entry.isDirectory()) {
          walk(rel);
          continue;
        }
        if (!entry.isFile()) {
          continue;
        }
        validateArtifactName(rel, 'artifact');
        const size = fs.statSync(path.join(dir, rel)).size;
        if (total + size > limit) {
          skip(
            rel,
            `${mib(size)} would take the run's artifacts past ${mib(limit)} (${MAX_ARTIFACT_BYTES_ENV} on the worker)`,
          );
          continue;
        }
        const name = masker.mask(prefix + rel);
        if (names.has(name)) {
          skip(prefix + rel, 'with its secrets masked, its name is that of another artifact');
          continue;
        }
        const data = fs.readFileSync(path.join(dir, rel));
        total += data.length;
        names.add(name);
        artifacts.push({ name, size: data.length, base64: data.toString('base64') });
      } catch (err) {
        skip(prefix + rel, asNbstageError(err).message);
      }
    }
  };
  if (fs.existsSync(dir)) {
    walk('');
  }
  return { artifacts, skipped };
}

/** What the full-output files may take when collected (their own limit is soft). */
function fullOutputBudget(bytes: number): number {
  return bytes === 0 ? Number.POSITIVE_INFINITY : bytes * 2 + 1024 * 1024;
}

/** A sealed part of a job's spec, or null when there is none. */
function sealedPart(value: JSONValue | undefined): JSONObject | null {
  return value !== undefined && value !== null && typeof value === 'object' && !Array.isArray(value)
    ? value
    : null;
}

/** The queue handler that runs notebooks on this worker. */
export function createRunJobHandler(options: RunJobOptions): JobHandler {
  const limit = options.maxArtifactBytes ?? maxArtifactBytes();
  return async (ctx: JobContext): Promise<JSONObject> => {
    const { runId } = ctx.payload;
    if (ctx.payload.spec.control === SESSION_CLOSE) {
      // Nothing to run: the worker lets go of the session once this returns (endSession).
      return { closed: ctx.payload.session ?? null };
    }
    const request = ctx.payload.spec.request;
    if (!validateRequest(request)) {
      const err = validateRequest.errors?.[0];
      throw new ValidationError(
        `request${err?.instancePath ?? ''}`,
        `invalid run request: ${err?.instancePath ?? ''} ${err?.message ?? ''}`,
      );
    }
    const key = options.secretKey ?? Buffer.alloc(0);
    const sealed = sealedPart(ctx.payload.spec.sealedSecrets);
    const sealedParameters = sealedPart(ctx.payload.spec.sealedParameters);
    const req: RunRequest = {
      ...(request as unknown as RunRequest),
      ...(sealed === null ? {} : { secrets: openSecrets(sealed, key) }),
      ...(sealedParameters === null
        ? {}
        : { parameters: openValue(sealedParameters, key) as Record<string, JSONValue> }),
    };
    const masker = new Masker(Object.values(req.secrets ?? {}));
    // A session's runs share one folder: its kernel, sandboxed, can write only the folders it
    // started with. What a run leaves in its artifacts goes with the run.
    const dir = runFolder(options.workDir, runId, req.session);
    for (const sub of ['artifacts', 'full-output']) {
      fs.rmSync(path.join(dir, sub), { recursive: true, force: true });
    }
    fs.mkdirSync(path.join(dir, 'artifacts'), { recursive: true });
    let lease: GpuLease | null = null;
    let copy: WorkspaceCopy | null = null;
    try {
      const gpuEnv: Record<string, string> = {};
      if (options.gpus !== undefined && options.gpus.gpus.length > 0) {
        // On a GPU worker every run says which GPUs it may see, none when it asked for none.
        lease = await options.gpus.acquire(ctx.payload.gpus ?? 0, ctx.signal);
        gpuEnv.CUDA_VISIBLE_DEVICES = lease.cudaVisibleDevices;
      }
      const sampler = samplePeakMemory(
        lease?.gpus ?? [],
        options.commandRunner,
        gpuSampleMs(process.env),
      );
      const file = path.join(dir, notebookFileName(req.notebookName));
      fs.writeFileSync(file, JSON.stringify(req.notebook));
      copy =
        req.workspace === undefined
          ? null
          : await checkoutWorkspace(
              req.workspace,
              options.trees === undefined
                ? { root: path.join(dir, 'workspace') }
                : { trees: options.trees, key: treeKey(req) },
              options.content,
              options.workspaceRoots,
            );
      const resolved = (ctx.payload.spec.baseline ?? null) as ResolvedBaseline | null;
      const run = await loadRun(
        runSpecOf(
          req,
          {
            notebookPath: file,
            runId,
            cwd: copy?.cwd ?? dir,
            writable:
              copy === null || copy.root.startsWith(`${dir}${path.sep}`) ? [dir] : [dir, copy.root],
            artifactsDir: path.join(dir, 'artifacts'),
            fullOutputDir: path.join(dir, 'full-output'),
            environment: { ...process.env, ...options.environment?.(), ...gpuEnv },
          },
          resolved,
        ),
      );
      // The lease's GPUs reach the kernel even when it started before the lease (a warm one).
      run.spec.kernelVariables = { ...run.spec.kernelVariables, ...gpuEnv };
      // A sandboxed kernel sees the device nodes of its lease's GPUs, and no other GPU's.
      run.spec.kernelDevices = gpuDeviceNodes(lease?.gpus ?? []);
      const forwarder = eventForwarder((data) => ctx.progress(data));
      const result = await executeRun(run, options.provider, {
        listeners: [forwarder.listener, sampler.listener],
        signal: ctx.signal,
      });
      await forwarder.flush();
      const gpuUsage = await sampler.stop();
      if (gpuUsage.length > 0) {
        const meta = result.notebook.metadata.nbstage ?? {};
        const environment = (meta.environment ?? {}) as JSONObject;
        meta.environment = { ...environment, gpus: gpuUsage as unknown as JSONObject[] };
        result.notebook.metadata.nbstage = meta;
        recordCellGpuPeaks(result.notebook, sampler.cellPeaks());
      }
      const user = collectArtifacts(path.join(dir, 'artifacts'), limit, '', masker);
      // The full output of cut cells: their own budget (the files stop at it themselves).
      const full = collectArtifacts(
        path.join(dir, 'full-output'),
        fullOutputBudget(resolveOutputLimits({}, run.spec.environment).fullOutputBytes),
        `${FULL_OUTPUT_DIR}/`,
        masker,
      );
      const artifacts = [...user.artifacts, ...full.artifacts];
      const skipped = [...user.skipped, ...full.skipped];
      const workspace =
        copy === null || req.workspace === undefined
          ? null
          : await workspaceOutputs(copy, req.workspace, options.content, masker);
      return {
        status: result.status,
        exitCode: result.error === null ? 0 : result.error.exitCode,
        error:
          result.error === null ? null : { code: result.error.code, message: result.error.message },
        durationMs: result.durationMs,
        metrics: result.metrics,
        notebook: result.notebook as unknown as JSONObject,
        artifacts: artifacts as unknown as JSONObject[],
        artifactsSkipped: skipped as unknown as JSONObject[],
        gpus: gpuUsage as unknown as JSONObject[],
        ...(workspace === null ? {} : { workspace: workspace as unknown as JSONObject }),
      };
    } catch (err) {
      // What the handler throws is kept on the job and shown: a bad parameter, say, masked.
      if (err instanceof Error) {
        maskError(err, masker);
      }
      throw err;
    } finally {
      lease?.release();
      await releaseWorkspace(copy);
      if (req.session === undefined) {
        fs.rmSync(dir, { recursive: true, force: true });
      } else {
        fs.rmSync(path.join(dir, 'artifacts'), { recursive: true, force: true });
        fs.rmSync(path.join(dir, 'full-output'), { recursive: true, force: true });
      }
    }
  };
}

/**
 * A run's folder on the worker: its own, or its session's (named by a hash of the session, which
 * may hold any character), kept until the session ends.
 */
export function runFolder(workDir: string, runId: string, session: string | undefined): string {
  return session === undefined || session === ''
    ? path.join(workDir, runId)
    : sessionFolder(workDir, session);
}

/** The folder the runs of `session` share on the worker (removed when the session ends). */
export function sessionFolder(workDir: string, session: string): string {
  return path.join(
    workDir,
    `session-${createHash('sha256').update(session).digest('hex').slice(0, 32)}`,
  );
}

/** The kept tree a run's workspace is synced into: its session's, else its job's and host's. */
function treeKey(req: RunRequest): string {
  return req.session !== undefined && req.session !== ''
    ? `session\0${req.session}`
    : `job\0${req.job ?? ''}\0${req.hostId ?? ''}`;
}
