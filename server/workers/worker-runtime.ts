/**
 * A worker as nbstage runs it, in `nbstage worker` on a GPU agent or inside `nbstage serve`:
 * kernels it launches itself (a warm one kept ready), or those of the Jupyter server or gateway
 * named by `NBSTAGE_JUPYTER_URL`; its GPUs found and advertised as labels and handed out per
 * run, the job handler, and session kernels shut down when the queue lets go of their session
 * (idle, or the worker closing).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { remoteProvider } from '../../kernels/jupyter-providers';
import { baseKernelVariable } from '../../kernels/kernel-env';
import type { KernelProvider, ProviderHealth } from '../../kernels/provider';
import {
  parseSandboxBind,
  sandboxTransport,
  sandboxWanted,
  type SandboxBind,
  type SandboxMode,
} from '../../kernels/zmq/sandbox';
import { kernelStartTimeoutMs, ZmqKernelProvider } from '../../kernels/zmq/zmq-provider';
import { UsageError } from '../../pipelines/errors';
import type { QueueBackend, QueueWorker } from '../queue';
import { hostIdOf, hostLabel } from '../queue/labels';
import { createRunJobHandler, sessionFolder } from '../runs/run-job';
import { inPlaceLabel } from '../runs/run-in-place';
import { DEFAULT_WORKSPACE_TREES, WorkspaceTrees } from './workspace-trees';
import type { WorkspaceContent } from './workspace-content';
import type { SecretKey } from '../runs/secret-box';
import { GpuAllocator, gpuLabels, listGpus, type CommandRunner, type GpuInfo } from './gpus';

/** Options of {@link startWorkerRuntime}. */
export interface WorkerRuntimeOptions {
  backend: QueueBackend;
  /** Labels besides the detected GPU ones. */
  labels?: string[];
  concurrency: number;
  /** Warm kernels kept ready (default: python3). */
  prewarm?: string[];
  /** Runs nvidia-smi (tests pass a fake). */
  commandRunner?: CommandRunner;
  /** Idle sessions are released after this long (ms); default 30 minutes. */
  sessionIdleMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Opens the secrets sealed into jobs (NBSTAGE_SECRET_KEY, or the in-process service's key). */
  secretKey?: SecretKey;
  /**
   * `NBSTAGE_JUPYTER_URL` (+ `NBSTAGE_JUPYTER_TOKEN`): kernels from that Jupyter server or
   * gateway; else kernels the worker launches (default this process's environment).
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Kernels in a bubblewrap sandbox each: `auto` (the default) where the machine allows it,
   * with a warning in the log where it does not; `required` refuses to start without it.
   */
  sandbox?: SandboxMode;
  /** Paths every sandbox shows (`--sandbox-bind`), e.g. a dataset mount. */
  sandboxBinds?: SandboxBind[];
  /** Where runs' workspaces come from and their outputs go (none: such runs are refused). */
  content?: WorkspaceContent;
  /** Folders (real paths) whose workspaces of this host it runs in place (`--workspace-root`). */
  workspaceRoots?: string[];
}

/** Where a worker's runs get kernels: any provider that keeps sessions and reports health. */
export interface WorkerKernelProvider extends KernelProvider {
  health(): ProviderHealth;
  /** Shuts down the kernel of `session`; false when it has none. */
  endSession(session: string): Promise<boolean>;
}

/**
 * The variables a service's kernel may inherit from the worker's own environment: the base every
 * kernel nbstage does not start for one run inherits ({@link baseKernelVariable}: where programs
 * and locales are, the terminal and time zone, and the CUDA/NVIDIA settings of the host); never
 * the service's credentials or configuration. A run's parameters, secrets and GPU lease reach
 * the kernel through its setup code.
 */
export const serviceKernelVariable: (name: string) => boolean = baseKernelVariable;

/**
 * `NBSTAGE_WORKSPACE_TREES`: how many workspace copies a worker keeps for the next run of their
 * job or session (default 8). @throws UsageError for a value that is not a whole number >= 1
 */
export function workspaceTreesOf(env: NodeJS.ProcessEnv): number {
  const raw = env.NBSTAGE_WORKSPACE_TREES;
  if (raw === undefined || raw === '') {
    return DEFAULT_WORKSPACE_TREES;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(
      `NBSTAGE_WORKSPACE_TREES must be a whole number of at least 1, not "${raw}"`,
    );
  }
  return value;
}

/** `NBSTAGE_SANDBOX_BIND`: `--sandbox-bind` values, separated by commas (a container's mounts). */
function bindsOfEnv(env: NodeJS.ProcessEnv): SandboxBind[] {
  return (env.NBSTAGE_SANDBOX_BIND ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
    .map(parseSandboxBind);
}

/** The worker's kernels: a remote server's when one is named, else launched by the worker. */
function workerProvider(
  env: NodeJS.ProcessEnv,
  workDir: string,
  options: WorkerRuntimeOptions,
): { provider: WorkerKernelProvider; sandboxed: boolean } {
  const mode = options.sandbox ?? 'auto';
  const warn = (message: string): void => {
    options.log?.('warning', { warning: message });
    process.stderr.write(`nbstage: warning: ${message}\n`);
  };
  const url = env.NBSTAGE_JUPYTER_URL;
  if (url !== undefined && url !== '') {
    if (mode === 'required') {
      throw new UsageError(
        '--sandbox required: the kernels of NBSTAGE_JUPYTER_URL run on that server, outside any sandbox nbstage makes',
      );
    }
    if (mode === 'auto') {
      warn('kernels of NBSTAGE_JUPYTER_URL are not sandboxed by nbstage');
    }
    return {
      provider: remoteProvider(url, env.NBSTAGE_JUPYTER_TOKEN ?? '', { poolSize: 1, env }),
      sandboxed: false,
    };
  }
  const support = sandboxWanted(mode, warn, env);
  return {
    provider: new ZmqKernelProvider({
      // A sandboxed kernel starts in its run's folder, so none can be warm.
      poolSize: support === null ? 1 : 0,
      cwd: workDir,
      sessions: true,
      kernel: {
        readyTimeoutMs: kernelStartTimeoutMs(env),
        allowEnv: serviceKernelVariable,
        ...(support === null
          ? {}
          : {
              sandbox: {
                bwrap: support.bwrap,
                binds: [...bindsOfEnv(env), ...(options.sandboxBinds ?? [])],
                transport: sandboxTransport(env),
              },
            }),
      },
    }),
    sandboxed: support !== null,
  };
}

/** A running worker. */
export interface WorkerRuntime {
  worker: QueueWorker;
  labels: string[];
  gpus: GpuInfo[];
  provider: WorkerKernelProvider;
  /** Whether its kernels run in a sandbox each. */
  sandboxed: boolean;
  close(): Promise<void>;
}

/** Starts a worker: kernels, GPUs, labels, handler. */
export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const gpus = await listGpus(options.commandRunner);
  // Its host's label too: a run from this host comes here first (see RunManager's affinity).
  const labels = [
    ...new Set([
      ...(options.labels ?? []),
      ...gpuLabels(gpus),
      hostLabel(hostIdOf(options.env ?? process.env)),
      ...(options.workspaceRoots ?? []).map(inPlaceLabel),
    ]),
  ];
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-work-'));
  const { provider, sandboxed } = workerProvider(options.env ?? process.env, workDir, options);
  const trees = new WorkspaceTrees(path.join(workDir, 'trees'), {
    maxTrees: workspaceTreesOf(options.env ?? process.env),
  });
  for (const name of sandboxed ? [] : (options.prewarm ?? ['python3'])) {
    provider.prewarm(name);
  }
  const worker = options.backend.worker({
    labels,
    concurrency: options.concurrency,
    handler: createRunJobHandler({
      provider,
      workDir,
      gpus: new GpuAllocator(gpus),
      commandRunner: options.commandRunner,
      secretKey: options.secretKey,
      content: options.content,
      trees,
      workspaceRoots: options.workspaceRoots,
    }),
    sessionIdleMs: options.sessionIdleMs,
    onSessionReleased: (session) =>
      provider
        .endSession(session)
        .finally(() => {
          fs.rmSync(sessionFolder(workDir, session), { recursive: true, force: true });
        })
        .then(
          (ended) => {
            if (ended) {
              options.log?.('session released', { session });
            }
          },
          () => undefined,
        ),
  });
  await worker.ready();
  options.log?.('worker ready', {
    id: worker.id,
    labels,
    gpus: gpus.map((g) => g.name),
    sandboxed,
  });
  let closing: Promise<void> | null = null;
  return {
    worker,
    labels,
    gpus,
    provider,
    sandboxed,
    close: () => {
      closing ??= (async () => {
        await worker.close();
        await provider.close();
        await trees.close();
        fs.rmSync(workDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
