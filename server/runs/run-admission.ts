/**
 * What a run request must pass before anything is written or queued (its notebook, the stages
 * it selects, where it may run, its secrets, the version it will be stored as, its kernels), and
 * the record of the run it becomes, with its secrets masked in every field (parameter values,
 * the notebook's name, the Jenkins build it came from, warnings).
 */
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/types';
import { NotebookInvalidError, ValidationError, asNbstageError } from '../../pipelines/errors';
import { zeppelinToNotebook, validateZeppelinNote } from '../../pipelines/formats/zeppelin';
import type { JSONObject, Notebook } from '../../pipelines/notebook/model';
import { checkNotebook } from '../../pipelines/notebook/check';
import { planStages } from '../../pipelines/stages/slice';
import { Masker } from '../../pipelines/secrets/mask';
import {
  checkKernels,
  checkNamesHoldNoSecret,
  checkVersionTarget,
  type KnownKernels,
} from './run-checks';
import { notebookFileName } from './run-job';
import type { JenkinsOrigin, RunRequest } from './run-request';
import {
  RUN_OPTION_FIELDS,
  queuedServiceRun,
  type RunOptions,
  type ServiceRun,
} from './service-run';
import { detectFormat } from '../../pipelines/formats/detect';
import type { BlobSource } from '../../pipelines/workspace/blob-dir';
import { checkWorkspace } from './run-workspace';
import { parseGate } from '../../pipelines/checks/gates';

/** What the service decides about every run it admits. */
export interface AdmissionRules {
  /**
   * Why secrets cannot be queued, if they cannot (workers elsewhere without the service's
   * NBSTAGE_SECRET_KEY could not open them, and nothing may be queued in the clear): a run with
   * secrets is then refused with 400 on `body.secrets`.
   */
  secretsRefused?: string;
  /** The kernels the workers offer, checked before a run is queued (default: not checked). */
  kernels?: KnownKernels;
  /** The content store workspaces were uploaded to; none: runs with a workspace are refused. */
  blobs?: BlobSource;
}

/**
 * A run that passed every check: its new record, the GPUs its job asks for, and its notebook as
 * nbformat (repaired, a Zeppelin note converted).
 */
export interface AdmittedRun {
  record: ServiceRun;
  gpus: number;
  notebook: Notebook;
}

/** The request's notebook as nbformat (a Zeppelin note converted), with its repairs. */
function notebookOf(
  request: RunRequest,
  notebookName: string,
): { notebook: Notebook; warnings: string[] } {
  const zeppelin = detectFormat(notebookName, request.notebook) === 'zeppelin';
  try {
    if (zeppelin) {
      const notebook = zeppelinToNotebook(validateZeppelinNote(request.notebook, notebookName));
      return { notebook, warnings: [] };
    }
    // What does not stop a run is repaired with a warning (the worker repairs it alike).
    return checkNotebook(request.notebook, notebookName);
  } catch (err) {
    const e = asNbstageError(err);
    throw e instanceof NotebookInvalidError ? new ValidationError('notebook', e.message) : e;
  }
}

/** The fields of a request that say how its run goes (see {@link RunOptions}). */
function runOptionsOf(request: RunRequest): RunOptions {
  return Object.fromEntries(
    RUN_OPTION_FIELDS.flatMap((field) =>
      request[field] === undefined ? [] : [[field, request[field]]],
    ),
  ) as RunOptions;
}

/**
 * Checks a run request and makes the record of the run it becomes (state `queued`, a new id).
 * Invalid input throws a ValidationError (400) naming the field; nothing is written.
 */
export async function admitRun(
  request: RunRequest,
  principal: Principal,
  rules: AdmissionRules,
): Promise<AdmittedRun> {
  const notebookName = notebookFileName(request.notebookName);
  const job = request.job ?? `adhoc/${notebookName.replace(/\.[^.]+$/, '')}`;
  const build =
    request.build ??
    new Date()
      .toISOString()
      .replace(/[-:.TZ]/g, '')
      .slice(0, 14);
  // First, so that no later message (an unknown stage, say) shows a secret.
  checkNamesHoldNoSecret(
    {
      job,
      build,
      session: request.session,
      kernel: request.kernel,
      stages: request.stages,
      labels: request.labels,
      notebookName: request.job === undefined ? notebookName : undefined,
    },
    request.secrets ?? {},
  );
  const masker = new Masker(Object.values(request.secrets ?? {}));
  const { notebook: nb, warnings } = notebookOf(request, notebookName);
  const stages = request.stages ?? [];
  // Where it runs: the request's labels and GPUs, else the stages' `metadata.nbstage`
  // (agent label, gpus); a run that needs GPUs needs a worker labelled gpu.
  const plan = planStages(nb, stages, { includePreamble: true });
  const options = Object.values(plan.options);
  const gpus = request.gpus ?? Math.max(0, ...options.map((o) => o.gpus ?? 0));
  const labels = new Set(
    request.labels ??
      // Plain labels only: a Jenkins label expression (`linux && gpu`) is Jenkins' business.
      options.flatMap((o) =>
        o.agent !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(o.agent) ? [o.agent] : [],
      ),
  );
  if (gpus > 0) {
    labels.add('gpu');
  }
  if (rules.secretsRefused !== undefined && Object.keys(request.secrets ?? {}).length > 0) {
    throw new ValidationError('body.secrets', `body.secrets: ${rules.secretsRefused}`);
  }
  // Everything the version needs is known valid before anything is written or queued.
  checkVersionTarget(job, build);
  checkKernels(nb, request.kernel, plan.cells, (await rules.kernels?.()) ?? null);
  const workspace =
    request.workspace === undefined ? undefined : checkWorkspace(request.workspace, rules.blobs);
  // A malformed gate is bad input (400 naming it), found before anything is queued.
  (request.gates ?? []).forEach((gate, i) => {
    const field = `body.gates/${i}`;
    try {
      parseGate(gate, field);
    } catch (err) {
      throw new ValidationError(field, `${field}: ${(err as Error).message}`);
    }
  });
  const record = queuedServiceRun({
    id: randomUUID(),
    job,
    build,
    notebookName: masker.mask(notebookName),
    stages,
    session: request.session ?? null,
    labels: [...labels],
    parameters: masker.maskValue((request.parameters ?? {}) as JSONObject),
    secrets: Object.keys(request.secrets ?? {}),
    createdAt: new Date().toISOString(),
    createdBy: principal.name,
    jenkins:
      request.jenkins === undefined
        ? undefined
        : (masker.maskValue(request.jenkins as unknown as JSONObject) as JenkinsOrigin),
    warnings: warnings.map((w) => masker.mask(w)),
    workspace,
    memory: request.memory,
    options: runOptionsOf(request),
  });
  return { record, gpus, notebook: nb };
}
