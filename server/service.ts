/**
 * `nbstage serve` assembled: version store, tokens and audit log in the home, a queue (in-process
 * by default, BullMQ with a Redis URL), in-process workers on a Jupyter server the service
 * supervises (with a warm kernel), the run manager, the HTTP API and the run streams. close()
 * drains: no new runs, running ones get a grace period, then are cancelled and versioned.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import type { JSONObject } from '../pipelines/notebook/model';
import { compileSchemas } from '../pipelines/notebook/schema';
import { UsageError } from '../pipelines/errors';
import { maxJsonDepth } from '../pipelines/notebook/json-depth';
import { auditLogFile, fileAuditLog } from './auth/audit';
import { BlobDir } from '../pipelines/workspace/blob-dir';
import { Authenticator } from './auth/authenticator';
import { maxBlobBytesOf } from './http/blob-routes';
import { trustProxyOf } from './auth/client-address';
import { authLimitsFromEnv } from './auth/limits';
import { fileTokenStore, tokensFile } from './auth/tokens';
import type { JenkinsApi } from '../jenkins-plugin-bridge/rest/jenkins-api';
import { NpmJenkinsApi } from '../jenkins-plugin-bridge/rest/npm-jenkins-api';
import { createApp } from './http/app';
import { JobSourceStore } from './jobs/job-sources';
import { JobSubmitter } from './jobs/job-submitter';
import { createServiceMetrics } from './http/metrics';
import { attachRunStream } from './http/stream';
import { queueBackend } from './queue';
import { RunManager } from './runs/run-manager';
import { secretKey } from './runs/secret-box';
import { ARTIFACTS_DIR, openVersionStore } from './store/git-version-store';
import type { SandboxBind, SandboxMode } from '../kernels/zmq/sandbox';
import { takeCredentials } from './credentials';
import { startWorkerRuntime, type WorkerRuntime } from './workers/worker-runtime';
import { localContent } from './workers/workspace-content';

/** Options of {@link startService}. */
export interface ServiceOptions {
  home: string;
  port?: number;
  host?: string;
  /** Redis URL: queue on BullMQ (workers may run elsewhere with `nbstage worker`). */
  redis?: string;
  /** In-process workers' concurrency (0: this service only queues). Default 2. */
  workers?: number;
  /** Labels of the in-process workers. */
  labels?: string[];
  /** Sandboxes for the in-process workers' kernels (default `auto`). */
  sandbox?: SandboxMode;
  /** Paths every sandbox shows (`--sandbox-bind`). */
  sandboxBinds?: SandboxBind[];
  /** Seconds running runs get to finish on close before they are cancelled. Default 10. */
  drainSeconds?: number;
  env?: NodeJS.ProcessEnv;
  /** Where logs go (default: stderr, JSON lines). */
  logStream?: NodeJS.WritableStream;
  version?: string;
  /** Largest request body (bytes); default 32 MiB. */
  maxBodyBytes?: number;
  /** Requests per second per principal (burst = 4x); default 50. */
  rateLimitPerSecond?: number;
  /**
   * Jenkins for submitted jobs; default: the npm client on NBSTAGE_JENKINS_URL with
   * NBSTAGE_JENKINS_USER and NBSTAGE_JENKINS_TOKEN, none without a URL.
   */
  jenkins?: JenkinsApi | null;
  /** Milliseconds between two looks at a submitted job's queue item or build; default 1000. */
  jenkinsPollMs?: number;
}

/** A running service. */
export interface Service {
  url: string;
  port: number;
  runs: RunManager;
  close(): Promise<void>;
}

/**
 * The largest request body: `NBSTAGE_MAX_BODY_BYTES` (bytes) when set and not empty, else
 * undefined (the app's default, 32 MiB).
 *
 * @throws UsageError when the variable is not a positive integer
 */
function bodyLimitOf(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.NBSTAGE_MAX_BODY_BYTES;
  if (raw === undefined || raw.trim() === '') {
    return undefined;
  }
  if (!/^\s*[1-9]\d*\s*$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(
      `NBSTAGE_MAX_BODY_BYTES: must be a positive number of bytes, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

/** Starts the service and resolves once it listens. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const env = options.env ?? process.env;
  // Read once, then gone from the environment everything this process starts inherits.
  const credentials = takeCredentials(env);
  // Limits set in the environment are checked now, not on the first request that meets them.
  maxJsonDepth(env);
  const authLimits = authLimitsFromEnv(env);
  const trustProxy = trustProxyOf(env.NBSTAGE_TRUST_PROXY);
  // And the notebook schemas compiled now, not while the first run's request holds the loop.
  compileSchemas();
  const maxBodyBytes = options.maxBodyBytes ?? bodyLimitOf(env);
  const maxBlobBytes = maxBlobBytesOf(env);
  const home = path.resolve(options.home);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const logger = pino({ base: { service: 'nbstage' } }, options.logStream ?? process.stderr);
  const log = (msg: string, fields: JSONObject = {}): void => logger.info(fields, msg);
  const store = await openVersionStore(home);
  // Workspace blobs live beside the artifacts, in one content store.
  const blobs = new BlobDir(path.join(home, ARTIFACTS_DIR));
  const tokens = fileTokenStore(tokensFile(home), {
    adminToken: credentials.NBSTAGE_ADMIN_TOKEN,
  });
  const auth = new Authenticator({ tokens, limits: authLimits, trustProxy });
  const audit = fileAuditLog(auditLogFile(home));
  const backend = queueBackend({
    redisUrl: options.redis,
    stalledIntervalMs: Number(env.NBSTAGE_STALLED_INTERVAL_MS ?? 30000),
  });
  const capabilities = backend.capabilities;
  const queue = backend.queue();
  const metrics = createServiceMetrics({ queue });
  // Secrets travel sealed through the queue. In-process, a key of this process's own; when jobs
  // leave the process the workers need the same NBSTAGE_SECRET_KEY, and without one secrets are
  // refused.
  const passphrase = credentials.NBSTAGE_SECRET_KEY;
  const key = secretKey(passphrase);
  const runs = new RunManager({
    home,
    secretKey: key,
    ...(capabilities.sharedSecretKey && (passphrase === undefined || passphrase === '')
      ? {
          secretsRefused:
            'secrets need NBSTAGE_SECRET_KEY on the service and its workers when the queue is on Redis',
        }
      : {}),
    queue,
    store,
    audit,
    log,
    blobs,
    // Kernels are checked before a run is queued when every worker is this process's own;
    // workers on other hosts offer kernelspecs of their own, and the one that takes the run
    // refuses an unknown kernel (NBSTAGE_KERNEL_NOT_FOUND).
    kernels: async () =>
      !capabilities.remoteWorkers && runtime !== null
        ? (await runtime.provider.kernelSpecs()).specs.map((s) => s.name)
        : null,
    onChange: (record, event) => {
      metrics.observeRun(record, event);
      if (event === undefined && record.finishedAt !== null) {
        log('run finished', {
          run: record.id,
          state: record.state,
          job: record.job,
          build: record.build,
        });
      }
    },
  });
  let runtime: WorkerRuntime | null = null;
  const recovered = await runs.recover();
  if (recovered.ended + recovered.resumed > 0) {
    log('recovered runs of an earlier service', recovered as unknown as JSONObject);
  }

  const concurrency = options.workers ?? 2;
  if (concurrency > 0) {
    runtime = await startWorkerRuntime({
      backend,
      labels: options.labels ?? ['cpu'],
      concurrency,
      secretKey: key,
      sandbox: options.sandbox,
      sandboxBinds: options.sandboxBinds,
      content: localContent(blobs),
      log: (msg, fields) => log(msg, (fields ?? {}) as JSONObject),
    });
  }
  // Jenkins: submitted notebooks become Pipeline jobs (server/jobs). The token never leaves here.
  const jenkins =
    options.jenkins !== undefined
      ? options.jenkins
      : env.NBSTAGE_JENKINS_URL
        ? new NpmJenkinsApi({
            url: env.NBSTAGE_JENKINS_URL,
            user: env.NBSTAGE_JENKINS_USER,
            token: credentials.NBSTAGE_JENKINS_TOKEN,
          })
        : null;
  let publicUrl = env.NBSTAGE_PUBLIC_URL?.replace(/\/+$/, '') ?? '';
  const jobs = new JobSubmitter({
    jenkins,
    sources: new JobSourceStore(path.join(home, 'jobs')),
    publicUrl: () => publicUrl,
    pollMs: options.jenkinsPollMs,
    log,
  });
  let draining = false;
  const app = createApp({
    version: options.version ?? '0.0.0',
    runs,
    store,
    queue,
    tokens,
    auth,
    metrics,
    kernels: async () =>
      runtime === null ? { default: '', specs: [] } : runtime.provider.kernelSpecs(),
    kernelsHealth: () => runtime?.provider.health() ?? { ready: true },
    draining: () => draining,
    log,
    maxBodyBytes,
    rateLimitPerSecond: options.rateLimitPerSecond,
    jobs,
    blobs,
    maxBlobBytes,
  });
  const server = http.createServer(app);
  // A workspace's blob may take longer than any fixed time to arrive: what ends a request is
  // two minutes without a byte (the socket's idle timeout), not its length.
  server.requestTimeout = 0;
  server.setTimeout(120_000);
  server.headersTimeout = 30_000;
  const wss = attachRunStream(server, runs, auth);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  publicUrl ||= url;
  log('listening', {
    url,
    home,
    queue: capabilities.name,
    jenkins: jenkins === null ? null : jenkins.url,
  });

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    runs,
    close: () => {
      closing ??= (async () => {
        draining = true;
        const active = runs.list().filter((r) => r.state === 'queued' || r.state === 'running');
        const deadline = Date.now() + (options.drainSeconds ?? 10) * 1000;
        while (Date.now() < deadline && runs.list().some((r) => r.state === 'running')) {
          await new Promise((r) => setTimeout(r, 100));
        }
        // Queued runs of a durable queue wait for the next service; in-process ones would be lost.
        for (const r of runs.list().filter((x) => x.state === 'queued' || x.state === 'running')) {
          if (!capabilities.durable || r.state === 'running') {
            await runs.cancel(r.id, { id: 'service', name: 'shutdown', role: 'admin' });
          }
        }
        // Cancelled runs are versioned within seconds; never wait forever for one.
        await Promise.race([
          Promise.all(active.map((r) => runs.settled(r.id))),
          new Promise((r) => setTimeout(r, 15000).unref()),
        ]);
        await runtime?.close();
        await jobs.close();
        runs.close();
        for (const client of wss.clients) {
          client.close(1001, 'service shutting down');
        }
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await queue.close();
        await store.close();
        log('stopped');
        logger.flush();
      })();
      return closing;
    },
  };
}
