/**
 * A whole run, from a notebook file to an executed notebook: load and validate, plan stages,
 * inject parameters, get kernels from a source (a provider), set secrets and the working
 * directory in each kernel, execute, give the kernels back (in one `finally`). Bad input fails in {@link loadRun}, before any kernel
 * starts; everything after that ends in a result that carries the executed notebook.
 */
import path from 'node:path';
import { ParameterError, StageNotFoundError, UsageError, asNbstageError } from './errors';
import type { InterpreterTable } from './formats/zeppelin';
import { executeNotebook, type ExecuteResult } from './executor/executor';
import type { RunEventListener } from './executor/events';
import type { ExecutorKernel } from './executor/kernel';
import { FULL_OUTPUT_DIR, resolveOutputLimits } from './executor/output-limits';
import { completeKernelspec } from './notebook/check';
import { readNotebookFile, type LoadedNotebook } from './notebook/io';
import { hasTag, type JSONObject, type JSONValue, type Notebook } from './notebook/model';
import { INJECTED_TAG, injectParameters } from './parameters/inject';
import { envSetupCode, INHERITED_ENV_NAMES } from './parameters/translators';
import { Masker } from './secrets/mask';
import { listStages, planStages } from './stages/slice';
import type { KernelLease, KernelSource } from './kernel-source';
import { resolveCheckPlan, withNbvalMarkers, type CheckRequest } from './checks/plan';
import { runChecks, type CheckPlan } from './checks/verdict';
import {
  pythonResourcesCode,
  measuresCellsInKernel,
  recordsEnvironment,
  runEnvironment,
  type GitRecord,
} from './environment/record';

/** What to run and how: the CLI flags and the HTTP body map onto this. */
export interface RunSpec {
  notebookPath: string;
  parameters?: Record<string, JSONValue>;
  secrets?: Record<string, string>;
  kernel?: string;
  stages?: string[];
  session?: string;
  cwd?: string;
  cellTimeoutS?: number;
  runTimeoutS?: number;
  allowErrors?: boolean;
  job?: string;
  build?: string;
  runId?: string;
  /** Directory the notebook may write artifacts into (`$NBSTAGE_ARTIFACTS`). */
  artifactsDir?: string;
  /** Most output bytes a cell keeps (0: no limit; default NBSTAGE_MAX_CELL_OUTPUT or 4 MiB). */
  maxCellOutputBytes?: number;
  /** Most output bytes the run streams and keeps (0: no limit; default 32 MiB). */
  maxRunOutputBytes?: number;
  /**
   * Where the full output of cells cut by a limit goes; default `nbstage-output/` in
   * `artifactsDir`, none without one.
   */
  fullOutputDir?: string;
  interpreters?: InterpreterTable;
  /**
   * The environment the notebook should see. Kernels that inherited an older one (a shared
   * server's spare kernel) get these variables set before the first cell.
   */
  environment?: NodeJS.ProcessEnv;
  /**
   * Variables set in every kernel before the first cell, whatever environment it started with
   * (a GPU lease's CUDA_VISIBLE_DEVICES: a worker's warm kernel started before the lease).
   */
  kernelVariables?: Record<string, string>;
  /** Device nodes a sandboxed kernel of the run sees (a GPU lease's). */
  kernelDevices?: string[];
  /**
   * The folders a sandboxed kernel of the run may write: the run's folder (its artifacts) and
   * its workspace copy, which holds its `cwd`; default the cwd itself.
   */
  writable?: string[];
  /** What the run is checked against (`--baseline`, `--rtol`, `--gate`). */
  checks?: CheckRequest;
  /** `--memory`: the kernels' memory limit in bytes (only kernels nbstage launches take one). */
  memoryBytes?: number;
  /**
   * The reproducibility record (`metadata.nbstage.environment`): on unless false or
   * `NBSTAGE_RECORD_ENVIRONMENT=0`. `source` is what the caller knows of the workspace that the
   * run's own folder cannot tell (a service's copy has no `.git`): its git state and digest.
   */
  recordEnvironment?: boolean;
  source?: { git?: GitRecord | null; workspace?: string };
}

/** Variables never copied into a kernel: nbstage's and Jupyter's own, and per-process ones. */
const PRIVATE_ENV =
  /^(JPY_.*|JUPYTER_.*|NBSTAGE_.*TOKEN|NBSTAGE_JENKINS_.*|MPLBACKEND|PYTHONPATH|PWD|OLDPWD|SHLVL|_)$/;

/** The part of `env` a kernel may see, with names every kernel language can set. */
export function kernelEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (
      value !== undefined &&
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) &&
      !PRIVATE_ENV.test(name) &&
      name !== INHERITED_ENV_NAMES
    ) {
      out[name] = value;
    }
  }
  return out;
}

/**
 * A run with `--memory` needs kernels that took the limit: those nbstage launches itself, not
 * a Jupyter server's. @throws UsageError
 */
function checkMemoryLimit(kernel: ExecutorKernel | undefined, memoryBytes: number | undefined) {
  if (memoryBytes !== undefined && kernel?.memory?.limitBytes !== memoryBytes) {
    throw new UsageError(
      `--memory: kernel ${kernel?.name ?? ''} runs on a Jupyter server, which nbstage cannot ` +
        'limit; a memory limit needs kernels nbstage launches itself (no --jupyter-url, ' +
        'NBSTAGE_JUPYTER_URL or session)',
    );
  }
}

/** Where a run's kernels work: `cwd`, else the notebook's folder. */
function runCwd(spec: RunSpec): string {
  return path.resolve(spec.cwd ?? path.dirname(path.resolve(spec.notebookPath)));
}

/** A validated run, ready for kernels. */
export interface LoadedRun {
  spec: RunSpec;
  loaded: LoadedNotebook;
  masker: Masker;
  /** The run's checks, resolved; null when nothing is checked. */
  checks: CheckPlan | null;
}

/** A finished run. */
export interface RunResult extends ExecuteResult {
  loaded: LoadedNotebook;
}

/** Loads and validates everything that can be checked without a kernel. */
export async function loadRun(spec: RunSpec): Promise<LoadedRun> {
  const loaded = await readNotebookFile(spec.notebookPath, { interpreters: spec.interpreters });
  const stages = spec.stages ?? [];
  if (stages.length > 0) {
    // Fails with the list of stages the notebook has.
    planStages(loaded.notebook, stages, { includePreamble: true });
  } else {
    listStages(loaded.notebook);
  }
  const masker = new Masker(Object.values(spec.secrets ?? {}));
  // A bad NBSTAGE_MAX_*_OUTPUT is bad input, found before any kernel starts.
  resolveOutputLimits({}, spec.environment ?? process.env);
  // A bad gate or baseline is bad input too.
  const checks = await resolveCheckPlan(spec.checks, loaded.notebook);
  return { spec, loaded, masker, checks };
}

/**
 * The kernel a cell runs on: its `metadata.nbstage.kernel` (Zeppelin paragraphs of another
 * interpreter), else the run's main kernel. The service checks these names before it queues.
 */
export function kernelOfCell(nb: Notebook, index: number, main: string): string {
  const meta = nb.cells[index]?.metadata.nbstage;
  const name = meta !== undefined && typeof meta.kernel === 'string' ? meta.kernel : null;
  return name ?? main;
}

function languageOfCell(nb: Notebook, index: number, fallback: string): string {
  const meta = nb.cells[index]?.metadata.nbstage;
  return meta !== undefined && typeof meta.language === 'string' ? meta.language : fallback;
}

/** How {@link executeRun} reports: the run's listeners, cancellation, listener failures. */
export interface ExecuteRunOptions {
  listeners?: RunEventListener[];
  signal?: AbortSignal;
  /** Called with what a listener threw or rejected with. */
  onListenerError?: (err: unknown) => void;
}

/**
 * Runs a loaded notebook on kernels from `source` (a kernel provider). Run failures are in the
 * result; what throws is what went wrong before a cell was sent (a kernel that cannot be had, a
 * stage that is not there, a parameter the kernel language cannot take). Every kernel acquired is
 * released, whatever happens: session kernels are kept unless the run killed them.
 */
export async function executeRun<L extends KernelLease>(
  run: LoadedRun,
  source: KernelSource<L>,
  options: ExecuteRunOptions = {},
): Promise<RunResult> {
  const { spec, loaded } = run;
  const specs = await source.kernelSpecs();
  const mainKernel = spec.kernel ?? loaded.notebook.metadata.kernelspec?.name ?? specs.default;
  const mainSpec = specs.specs.find((s) => s.name === mainKernel);
  // A kernelspec without its name or display name (nbformat only warns) gets them from the
  // kernel that runs it, so the executed notebook is valid.
  const original = completeKernelspec(loaded.notebook, {
    name: mainKernel,
    displayName: mainSpec?.displayName ?? mainKernel,
  });
  const language =
    mainSpec?.language ||
    original.metadata.kernelspec?.language ||
    original.metadata.language_info?.name ||
    'python';

  // Parameters: papermill's injected cell for notebooks, z.input for Zeppelin notes.
  const parameters = spec.parameters ?? {};
  // Checked against a baseline, nbval's markers say which cells run and which may raise.
  let notebook =
    run.checks !== null && run.checks.baseline !== null ? withNbvalMarkers(original) : original;
  if (loaded.format === 'ipynb' && Object.keys(parameters).length > 0) {
    // Throws ParameterError (exit 2) for a language nbstage cannot translate to.
    notebook = injectParameters(notebook, parameters, language);
  }

  // Kernels: one per kernel name the selected cells need.
  const names = new Set<string>();
  const probe = planStages(notebook, spec.stages ?? [], { includePreamble: true });
  for (const index of probe.cells) {
    names.add(kernelOfCell(notebook, index, mainKernel));
  }
  if (names.size === 0) {
    names.add(mainKernel);
  }
  const acquired = new Map<string, L>();
  // Kernels that did not run the notebook (it failed before a cell was sent) are still usable.
  let keep = true;
  try {
    for (const name of names) {
      acquired.set(
        name,
        await source.acquire(name, {
          session: spec.session,
          cwd: runCwd(spec),
          writable: spec.writable,
          devices: spec.kernelDevices,
          ...(spec.memoryBytes === undefined ? {} : { memoryBytes: spec.memoryBytes }),
        }),
      );
      checkMemoryLimit(acquired.get(name)?.kernel, spec.memoryBytes);
    }
    const result = await runOnKernels(
      run,
      { notebook, parameters, mainKernel, language },
      acquired,
      options,
    );
    keep = result.kernelsUsable && result.status !== 'kernel_died';
    return { ...result, loaded };
  } catch (err) {
    throw asNbstageError(err);
  } finally {
    // Session kernels stay alive for the next stage when they are still usable.
    await Promise.all([...acquired.values()].map((a) => source.release(a, keep)));
  }
}

/**
 * The part of a run that needs its kernels: select the cells, set each kernel up, execute.
 */
async function runOnKernels(
  run: LoadedRun,
  prepared: {
    notebook: Notebook;
    parameters: Record<string, JSONValue>;
    mainKernel: string;
    language: string;
  },
  acquired: ReadonlyMap<string, KernelLease>,
  options: ExecuteRunOptions,
): Promise<ExecuteResult> {
  const { spec, loaded, masker } = run;
  const { notebook, parameters, mainKernel, language } = prepared;
  const fresh = [...acquired.values()].every((a) => a.fresh);
  // The preamble is skipped only for selected stages on a kernel that already ran it: a run of
  // the whole notebook (no stage named) runs every cell, even in a session's kernel.
  const includePreamble = fresh || (spec.stages ?? []).length === 0;
  const plan = planStages(notebook, spec.stages ?? [], { includePreamble });
  if (!includePreamble && Object.keys(parameters).length > 0) {
    // The kernel ran the preamble already, but this run's parameters are its own: their
    // injected cell (in the preamble) runs first, as papermill's would.
    const injected = notebook.cells.findIndex((c) => hasTag(c, INJECTED_TAG));
    if (injected >= 0 && !plan.cells.includes(injected)) {
      plan.cells.unshift(injected);
    }
  }
  if ((spec.stages ?? []).length > 0 && plan.stages.length === 0) {
    throw new StageNotFoundError(`no stage selected`);
  }

  // Per kernel: secrets and run facts as environment variables, the working directory, z.
  const env: Record<string, string> = { ...(spec.kernelVariables ?? {}), ...(spec.secrets ?? {}) };
  if (spec.runId !== undefined) {
    env.NBSTAGE_RUN_ID = spec.runId;
  }
  if (spec.artifactsDir !== undefined) {
    env.NBSTAGE_ARTIFACTS = path.resolve(spec.artifactsDir);
  }
  const cwd = runCwd(spec);
  const kernelLanguages = new Map<string, string>();
  for (const index of plan.cells) {
    kernelLanguages.set(
      kernelOfCell(notebook, index, mainKernel),
      languageOfCell(notebook, index, language),
    );
  }
  const measuringKernels = new Set<ExecutorKernel>();
  for (const [name, a] of acquired) {
    const lang = kernelLanguages.get(name) ?? a.kernel.language.name ?? language;
    // A kernel that started with another process's environment (a shared server's, a session
    // kernel) gets the run's whole environment, and loses first what it inherited from the run
    // that started its server (kernels/kernel-env.ts lists it): no run sees another's variables.
    const whole = a.staleEnv && spec.environment !== undefined;
    const kernelEnv = whole ? { ...kernelEnvironment(spec.environment ?? {}), ...env } : env;
    try {
      await a.kernel.run(envSetupCode(lang, kernelEnv, cwd, { replaceInherited: whole }));
      if (
        a.kernel.memory !== undefined &&
        /python/i.test(lang) &&
        measuresCellsInKernel(spec.environment ?? process.env)
      ) {
        // A kernel nbstage owns measures each cell's memory peak itself, exactly.
        await a.kernel.run(pythonResourcesCode());
        measuringKernels.add(a.kernel);
      }
      if (loaded.format === 'zeppelin' && /python/i.test(lang)) {
        const params = JSON.stringify(parameters);
        await a.kernel.run(
          `from nbstage.zeppelin import install as _i; _i(${JSON.stringify(params)}); del _i`,
        );
      }
    } catch (err) {
      if (err instanceof ParameterError) {
        throw err;
      }
      // A kernel that cannot take its setup still runs; the cells will say what is missing.
    }
  }

  const kernelFor = (index: number): ExecutorKernel => {
    const a = acquired.get(kernelOfCell(notebook, index, mainKernel)) ?? acquired.get(mainKernel);
    if (a === undefined) {
      throw new Error(`no kernel for cell ${index}`);
    }
    return a.kernel;
  };
  const recordedParams: JSONObject = { ...parameters };
  for (const name of Object.keys(spec.secrets ?? {})) {
    recordedParams[name] = '****';
  }
  const environment = recordsEnvironment(spec.environment ?? process.env, spec.recordEnvironment)
    ? await runEnvironment({
        kernel: acquired.get(mainKernel)?.kernel,
        language,
        dir: cwd,
        ...(spec.source === undefined ? {} : { source: spec.source }),
        env: spec.environment ?? process.env,
      })
    : null;
  const metadata: JSONObject = {
    ...(environment === null ? {} : { environment }),
    parameters: masker.active ? masker.maskValue(recordedParams) : recordedParams,
    secrets: Object.keys(spec.secrets ?? {}),
    ...(spec.job === undefined ? {} : { job: spec.job }),
    ...(spec.build === undefined ? {} : { build: spec.build }),
    ...(spec.session === undefined ? {} : { session: spec.session }),
    input: path.basename(spec.notebookPath),
    format: loaded.format,
  };
  return executeNotebook({
    notebook,
    cells: plan.cells,
    kernelFor,
    stageOf: plan.stageOf,
    stages: plan.stages,
    runId: spec.runId,
    allowErrors: spec.allowErrors,
    cellTimeoutS: spec.cellTimeoutS,
    runTimeoutS: spec.runTimeoutS,
    signal: options.signal,
    masker,
    listeners: options.listeners,
    metadata,
    onListenerError: options.onListenerError,
    outputLimits: resolveOutputLimits(
      { cellBytes: spec.maxCellOutputBytes, runBytes: spec.maxRunOutputBytes },
      spec.environment ?? process.env,
    ),
    checks: run.checks === null ? undefined : runChecks(run.checks),
    measuringKernels,
    fullOutputDir:
      spec.fullOutputDir ??
      (spec.artifactsDir === undefined
        ? null
        : path.join(path.resolve(spec.artifactsDir), FULL_OUTPUT_DIR)),
  });
}
