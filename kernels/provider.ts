/**
 * Kernel providers: where a run gets its kernels. One interface, with two implementations:
 * kernels nbstage launches itself (kernels/zmq/zmq-provider.ts), and this file's on any Jupyter
 * server API (a local server, a remote one, Kernel Gateway or Enterprise Gateway), with an
 * optional warm pool per kernelspec and session reuse through Jupyter's sessions API, or by
 * kernel id where a gateway has none. kernels/jupyter-providers.ts makes them.
 */
import { UnreachableError } from '../pipelines/errors';
import { kernelSpecNamed, type AcquireOptions, type SetupKernel } from '../pipelines/kernel-source';
import type { JupyterEndpoint } from './endpoint';
import { KernelClient } from './kernel-client';
import { noSessionsApi, type SessionKernelIndex } from './gateway';
import {
  createSession,
  deleteKernel,
  deleteSession,
  JupyterRestError,
  kernelAlive,
  listKernelSpecs,
  listSessions,
  type KernelSpecInfo,
  type SessionModel,
} from './jupyter-rest';
import { KernelPool } from './pool';
import type { SpareKernels } from './shared-server';

/**
 * A kernel handed to a run; `fresh` is false when a session's kernel is reused. `K` is the
 * provider's kernel: on a Jupyter server a KernelClient.
 */
export interface AcquiredKernel<K extends SetupKernel = KernelClient> {
  kernel: K;
  fresh: boolean;
  /** The session this kernel belongs to (it outlives the run), if any. */
  session: string | null;
  /**
   * Whether the kernel's environment was inherited from an earlier process (a shared server's
   * spare kernel): the run then sets the caller's environment variables in it.
   */
  staleEnv: boolean;
}

/** Where runs get kernels (of type `K`). Whoever creates a provider closes it. */
export interface KernelProvider<K extends SetupKernel = SetupKernel> {
  /** A human-readable description (never the token). */
  readonly description: string;
  /** The kernelspecs on offer and the default. */
  kernelSpecs(): Promise<{ default: string; specs: KernelSpecInfo[] }>;
  /** A kernel of `name`: from the session when given (created if new), else warm or new. */
  acquire(name: string, options?: AcquireOptions): Promise<AcquiredKernel<K>>;
  /** Starts a kernel of `name` ahead of need; the next {@link acquire} takes it. */
  prewarm(name: string, count?: number): void;
  /** Gives a kernel back: session kernels stay alive when `keep`; others are shut down. */
  release(acquired: AcquiredKernel<K>, keep: boolean): Promise<void>;
  /** Shuts down what this provider started. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link JupyterKernelProvider}. */
export interface JupyterKernelProviderOptions {
  /** Warm kernels kept ready per kernelspec (default 0). */
  poolSize?: number;
  /** Called on close (the local server's owner stops it). */
  onClose?: () => Promise<void>;
  /** Warm spare kernels of a shared server, claimed first and replenished after each claim. */
  spares?: SpareKernels;
  /** Environment sent with every kernel start (a gateway's `KERNEL_*` variables). */
  kernelEnv?: Record<string, string>;
  /**
   * Where sessions are kept by kernel id when the server has no sessions API (the gateways);
   * without one, such a server's sessions fail as its answer says.
   */
  sessionIndex?: SessionKernelIndex;
  description?: string;
}

/** Whether a provider can hand out kernels now, and why not. */
export interface ProviderHealth {
  ready: boolean;
  /** Why not, when not ready. */
  reason?: string;
}

/** A provider on a Jupyter server API. */
export class JupyterKernelProvider implements KernelProvider<KernelClient> {
  readonly description: string;
  private readonly pool: KernelPool<KernelClient>;
  readonly endpoint: JupyterEndpoint;
  private specsCache: Promise<{ default: string; specs: KernelSpecInfo[] }> | null = null;
  private closed: Promise<void> | null = null;
  private readonly early = new Map<string, Promise<KernelClient>>();
  /** Sessions being ended: a run of the session waits until its old kernel is gone. */
  private readonly ending = new Map<string, Promise<boolean>>();
  /** Kernels handed to runs and not given back: they die with the server. */
  private readonly handedOut = new Set<KernelClient>();
  /** Why the server is gone (its supervisor saw it exit); null while it serves. */
  private lostReason: string | null = null;
  /** Aborted when the server is lost: kernels still starting on it give up. */
  private readonly generation = new AbortController();

  constructor(
    endpoint: JupyterEndpoint,
    private readonly options: JupyterKernelProviderOptions = {},
  ) {
    this.endpoint = endpoint;
    this.description =
      options.description ?? `Jupyter server at ${new URL(endpoint.baseUrl).origin}`;
    this.pool = this.newPool(endpoint, options.poolSize ?? 0);
  }

  private newPool(endpoint: JupyterEndpoint, size: number): KernelPool<KernelClient> {
    const signal = this.generation.signal;
    const env = this.options.kernelEnv;
    return new KernelPool((name) => KernelClient.start(endpoint, name, { signal, env }), {
      size,
    });
  }

  /** Whether kernels can be had (false once the server is lost). */
  health(): ProviderHealth {
    return this.lostReason === null ? { ready: true } : { ready: false, reason: this.lostReason };
  }

  /**
   * The server is gone (its supervisor saw it exit): every kernel it held is lost at once, so
   * the runs on them end as kernel deaths instead of waiting on reconnects, and no kernel can be
   * had from it any more.
   */
  serverLost(reason: string): void {
    this.lostReason ??= reason;
    for (const kernel of this.handedOut) {
      kernel.lose('server-died');
    }
    this.handedOut.clear();
    this.generation.abort();
    for (const early of this.early.values()) {
      early.then((kernel) => kernel.lose('server-died')).catch(() => undefined);
    }
    this.early.clear();
    // The warm kernels died with the server; nothing to shut down.
    this.pool.abandon((kernel) => kernel.lose('server-died'));
  }

  private whenAvailable(): Promise<void> {
    return this.lostReason === null
      ? Promise.resolve()
      : Promise.reject(
          new UnreachableError(`${this.description} is not available: ${this.lostReason}`),
        );
  }

  kernelSpecs(): Promise<{ default: string; specs: KernelSpecInfo[] }> {
    this.specsCache ??= this.whenAvailable().then(() => listKernelSpecs(this.endpoint));
    this.specsCache.catch(() => {
      this.specsCache = null;
    });
    return this.specsCache;
  }

  /** Throws KernelNotFoundError unless the server offers `name`. */
  async checkKernel(name: string): Promise<KernelSpecInfo> {
    return kernelSpecNamed((await this.kernelSpecs()).specs, name);
  }

  /** Starts (or claims) a kernel of `name` now; the next {@link acquire} of `name` takes it. */
  prewarm(name: string, count = 1): void {
    if (this.options.spares !== undefined) {
      if (!this.early.has(name)) {
        const p = this.startOrClaim(name);
        p.catch(() => undefined);
        this.early.set(name, p);
      }
      return;
    }
    this.pool.prewarm(name, count);
  }

  private async startOrClaim(name: string): Promise<KernelClient> {
    const spares = this.options.spares;
    if (spares === undefined) {
      return this.pool.acquire(name);
    }
    const claimed = await spares.claim(name);
    spares.replenish(name);
    return (
      claimed ??
      KernelClient.start(this.endpoint, name, {
        signal: this.generation.signal,
        env: this.options.kernelEnv,
      })
    );
  }

  async acquire(
    name: string,
    options: { session?: string; cwd?: string } = {},
  ): Promise<AcquiredKernel> {
    await this.whenAvailable();
    const acquired = await this.acquireNow(name, options);
    if (this.lostReason !== null) {
      // The server died while this kernel was being started or connected.
      acquired.kernel.lose('server-died');
    } else {
      this.handedOut.add(acquired.kernel);
    }
    return acquired;
  }

  private async acquireNow(
    name: string,
    options: { session?: string; cwd?: string },
  ): Promise<AcquiredKernel> {
    if (options.session !== undefined && options.session !== '') {
      await this.checkKernel(name);
      return this.sessionKernel(name, options.session);
    }
    const early = this.early.get(name);
    this.early.delete(name);
    // The kernel starts while the kernelspecs are checked; an unknown name fails both.
    const [check, started] = await Promise.allSettled([
      this.checkKernel(name),
      early ?? this.startOrClaim(name),
    ]);
    if (check.status === 'rejected') {
      if (started.status === 'fulfilled') {
        await started.value.shutdown();
      }
      throw check.reason;
    }
    if (started.status === 'rejected') {
      throw started.reason;
    }
    return {
      kernel: started.value,
      fresh: true,
      session: null,
      staleEnv: this.options.spares !== undefined,
    };
  }

  /** Shuts down the kernel of `session` (idle or released by the queue). False if none. */
  endSession(session: string): Promise<boolean> {
    const ended = this.deleteSession(session).finally(() => {
      if (this.ending.get(session) === ended) {
        this.ending.delete(session);
      }
    });
    this.ending.set(session, ended);
    return ended;
  }

  private async deleteSession(session: string): Promise<boolean> {
    const path = `nbstage-sessions/${encodeURIComponent(session)}`;
    const sessions = await this.sessionsOrNull();
    if (sessions === null) {
      return this.endKernelOfSession(session);
    }
    const found = sessions.find((s) => s.path === path);
    if (found === undefined) {
      return false;
    }
    await deleteSession(this.endpoint, found.id);
    return true;
  }

  /**
   * The server's sessions; null when it has no sessions API and sessions are kept by kernel id
   * instead (a gateway).
   */
  private async sessionsOrNull(): Promise<SessionModel[] | null> {
    try {
      return await listSessions(this.endpoint);
    } catch (err) {
      if (
        this.options.sessionIndex !== undefined &&
        err instanceof JupyterRestError &&
        noSessionsApi(err.httpStatus)
      ) {
        return null;
      }
      throw err;
    }
  }

  /** A session's kernel on a server without a sessions API: the recorded one, else a new one. */
  private async sessionKernelById(
    name: string,
    session: string,
    index: SessionKernelIndex,
  ): Promise<AcquiredKernel> {
    const kept = index.get(session);
    if (kept !== null && kept.name === name && (await kernelAlive(this.endpoint, kept.kernelId))) {
      const kernel = await KernelClient.connect(
        this.endpoint,
        { id: kept.kernelId, name },
        { signal: this.generation.signal },
      );
      return { kernel, fresh: false, session, staleEnv: true };
    }
    if (kept !== null) {
      await this.endKernelOfSession(session);
    }
    const kernel = await KernelClient.start(this.endpoint, name, {
      signal: this.generation.signal,
      env: this.options.kernelEnv,
    });
    index.set(session, { kernelId: kernel.id, name });
    return { kernel, fresh: true, session, staleEnv: true };
  }

  /** Shuts down the kernel recorded for `session` (no sessions API); false if none ran. */
  private async endKernelOfSession(session: string): Promise<boolean> {
    const index = this.options.sessionIndex;
    const kept = index?.get(session) ?? null;
    if (index === undefined || kept === null) {
      return false;
    }
    index.delete(session);
    return deleteKernel(this.endpoint, kept.kernelId);
  }

  private async sessionKernel(name: string, session: string): Promise<AcquiredKernel> {
    await this.ending.get(session)?.catch(() => undefined);
    const path = `nbstage-sessions/${encodeURIComponent(session)}`;
    const sessions = await this.sessionsOrNull();
    const index = this.options.sessionIndex;
    if (sessions === null && index !== undefined) {
      return this.sessionKernelById(name, session, index);
    }
    const existing = (sessions ?? []).find((s) => s.path === path);
    if (
      existing !== undefined &&
      existing.kernel.name === name &&
      existing.kernel.execution_state !== 'dead'
    ) {
      const kernel = await KernelClient.connect(
        this.endpoint,
        { id: existing.kernel.id, name },
        { signal: this.generation.signal },
      );
      return { kernel, fresh: false, session, staleEnv: true };
    }
    const created = await createSession(this.endpoint, { path, name: session, kernel: name });
    const kernel = await KernelClient.connect(
      this.endpoint,
      { id: created.kernel.id, name },
      { signal: this.generation.signal },
    );
    return { kernel, fresh: true, session, staleEnv: true };
  }

  async release(acquired: AcquiredKernel, keep: boolean): Promise<void> {
    this.handedOut.delete(acquired.kernel);
    if (acquired.session !== null && keep && acquired.kernel.dead === null) {
      acquired.kernel.disconnect();
      return;
    }
    const index = this.options.sessionIndex;
    if (
      acquired.session !== null &&
      index?.get(acquired.session)?.kernelId === acquired.kernel.id
    ) {
      index.delete(acquired.session);
    }
    await acquired.kernel.shutdown();
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      const unused = [...this.early.values()];
      this.early.clear();
      await Promise.all(unused.map((p) => p.then((k) => k.shutdown()).catch(() => undefined)));
      await this.options.spares?.settle();
      await this.pool.close();
      await this.options.onClose?.();
    })();
    return this.closed;
  }
}
