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
import type { KernelProvider, ProviderHealth } from '../../kernels/provider';
import { kernelStartTimeoutMs, ZmqKernelProvider } from '../../kernels/zmq/zmq-provider';
import type { QueueBackend, QueueWorker } from '../queue';
import { createRunJobHandler } from '../runs/run-job';
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
}

/** Where a worker's runs get kernels: any provider that keeps sessions and reports health. */
export interface WorkerKernelProvider extends KernelProvider {
  health(): ProviderHealth;
  /** Shuts down the kernel of `session`; false when it has none. */
  endSession(session: string): Promise<boolean>;
}

/** The worker's kernels: a remote server's when one is named, else launched by the worker. */
function workerProvider(env: NodeJS.ProcessEnv, workDir: string): WorkerKernelProvider {
  const url = env.NBSTAGE_JUPYTER_URL;
  if (url !== undefined && url !== '') {
    return remoteProvider(url, env.NBSTAGE_JUPYTER_TOKEN ?? '', { poolSize: 1, env });
  }
  return new ZmqKernelProvider({
    poolSize: 1,
    cwd: workDir,
    sessions: true,
    kernel: { readyTimeoutMs: kernelStartTimeoutMs(env) },
  });
}

/** A running worker. */
export interface WorkerRuntime {
  worker: QueueWorker;
  labels: string[];
  gpus: GpuInfo[];
  provider: WorkerKernelProvider;
  close(): Promise<void>;
}

/** Starts a worker: kernels, GPUs, labels, handler. */
export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const gpus = await listGpus(options.commandRunner);
  const labels = [...new Set([...(options.labels ?? []), ...gpuLabels(gpus)])];
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-work-'));
  const provider = workerProvider(options.env ?? process.env, workDir);
  for (const name of options.prewarm ?? ['python3']) {
    provider.prewarm(name);
  }
  const worker = options.backend.worker({
    labels,
    concurrency: options.concurrency,
    handler: createRunJobHandler({
      provider,
      workDir,
      gpus: new GpuAllocator(gpus),
      secretKey: options.secretKey,
    }),
    sessionIdleMs: options.sessionIdleMs,
    onSessionReleased: (session) =>
      provider.endSession(session).then(
        (ended) => {
          if (ended) {
            options.log?.('session released', { session });
          }
        },
        () => undefined,
      ),
  });
  await worker.ready();
  options.log?.('worker ready', { id: worker.id, labels, gpus: gpus.map((g) => g.name) });
  let closing: Promise<void> | null = null;
  return {
    worker,
    labels,
    gpus,
    provider,
    close: () => {
      closing ??= (async () => {
        await worker.close();
        await provider.close();
        fs.rmSync(workDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
