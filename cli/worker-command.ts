/**
 * `nbstage worker --redis URL`: takes runs from the Redis queue whose labels it has (its GPUs add
 * `gpu` and the model) until SIGINT/SIGTERM; then it stops taking runs and lets the running ones
 * finish (a second signal leaves at once; the queue then fails those runs as stalled).
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { NbstageClient } from '../client/api-client';
import { defaultCacheDir } from '../pipelines/workspace/hash-cache';
import { UsageError } from '../pipelines/errors';
import { bullmqBackend } from '../server/queue';
import { takeCredentials } from '../server/credentials';
import { secretKey } from '../server/runs/secret-box';
import { parseSandboxBind, parseSandboxMode } from '../kernels/zmq/sandbox';
import { remoteContent } from '../server/workers/remote-content';
import { startWorkerRuntime } from '../server/workers/worker-runtime';
import { untilStopSignal } from './stop-signal';

/** Flags of `nbstage worker`. */
export interface WorkerFlags {
  redis?: string;
  labels?: string;
  concurrency: string;
  sandbox: string;
  sandboxBind: string[];
  workspaceRoot: string[];
}

/** Runs a worker until a signal; resolves to the exit code. */
export async function workerCommand(flags: WorkerFlags): Promise<number> {
  const url = flags.redis ?? process.env.NBSTAGE_REDIS;
  if (url === undefined || url === '') {
    throw new UsageError('nbstage worker needs --redis URL (or NBSTAGE_REDIS)');
  }
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(
      `--concurrency must be a whole number of at least 1, got "${flags.concurrency}"`,
    );
  }
  // Read once, then gone from the environment the worker's kernels are started from.
  const credentials = takeCredentials(process.env);
  const logger = pino({ base: { service: 'nbstage-worker' } }, process.stderr);
  const stalled = Number(process.env.NBSTAGE_STALLED_INTERVAL_MS ?? 30000);
  // Workspaces come from the service's content store over HTTP, into a cache of this host.
  const service = process.env.NBSTAGE_URL;
  const content =
    service === undefined || service === ''
      ? undefined
      : remoteContent(
          new NbstageClient(service, credentials.NBSTAGE_TOKEN ?? ''),
          path.join(defaultCacheDir(process.env), 'blobs'),
        );
  if (content !== undefined && (credentials.NBSTAGE_TOKEN ?? '') === '') {
    throw new UsageError(
      'NBSTAGE_URL needs a token of role run in NBSTAGE_TOKEN (or NBSTAGE_TOKEN_FILE)',
    );
  }
  const runtime = await startWorkerRuntime({
    backend: bullmqBackend({ url, stalledIntervalMs: stalled }),
    // Every host has a CPU: without --labels a worker takes `cpu` stages (and unlabelled runs).
    labels: flags.labels === undefined ? ['cpu'] : flags.labels.split(',').filter(Boolean),
    concurrency,
    sandbox: parseSandboxMode(flags.sandbox),
    sandboxBinds: flags.sandboxBind.map(parseSandboxBind),
    log: (msg, fields) => logger.info(fields ?? {}, msg),
    content,
    workspaceRoots: flags.workspaceRoot.map((dir) => {
      try {
        return fs.realpathSync(dir);
      } catch {
        throw new UsageError(`--workspace-root ${dir}: no such folder`);
      }
    }),
    ...(credentials.NBSTAGE_SECRET_KEY === undefined
      ? {}
      : { secretKey: secretKey(credentials.NBSTAGE_SECRET_KEY) }),
  });
  process.stderr.write(
    `nbstage: worker ${runtime.worker.id} ready (labels: ${runtime.labels.join(', ') || 'none'})\n`,
  );
  await untilStopSignal({ secondExits: true });
  process.stderr.write('nbstage: worker draining\n');
  await runtime.close();
  return 0;
}
