/**
 * Kernel providers: where a run gets its kernels. One interface, one implementation on any
 * Jupyter server API (a local supervised server, a remote server or an Enterprise Gateway),
 * with an optional warm pool per kernelspec and session reuse through Jupyter's sessions API.
 */
import { KernelNotFoundError, UnreachableError } from '../pipelines/errors';
import type { JupyterEndpoint } from './endpoint';
import { authHeaders } from './endpoint';
import { LocalJupyterServer, type LocalJupyterServerOptions } from './jupyter-server';
import { KernelClient, listKernelSpecs, type KernelSpecInfo } from './kernel-client';
import { KernelPool } from './pool';
import { connectSharedServer, SpareKernels, type SharedServerOptions } from './shared-server';

/** A kernel handed to a run; `fresh` is false when a session's kernel is reused. */
export interface AcquiredKernel {
  kernel: KernelClient;
  fresh: boolean;
  /** The session this kernel belongs to (it outlives the run), if any. */
  session: string | null;
  /**
   * Whether the kernel's environment was inherited from an earlier process (a shared server's
   * spare kernel): the run then sets the caller's environment variables in it.
   */
  staleEnv: boolean;
}

/** Where runs get kernels. Whoever creates a provider closes it. */
export interface KernelProvider {
  /** A human-readable description (never the token). */
  readonly description: string;
  /** The kernelspecs on offer and the default. */
  kernelSpecs(): Promise<{ default: string; specs: KernelSpecInfo[] }>;
  /** A kernel of `name`: from the session when given (created if new), else warm or new. */
  acquire(name: string, options?: { session?: string; cwd?: string }): Promise<AcquiredKernel>;
  /** Starts a kernel of `name` ahead of need; the next {@link acquire} takes it. */
  prewarm(name: string, count?: number): void;
  /** Gives a kernel back: session kernels stay alive when `keep`; others are shut down. */
  release(acquired: AcquiredKernel, keep: boolean): Promise<void>;
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
  description?: string;
}

/** A provider on a Jupyter server API. */
export class JupyterKernelProvider implements KernelProvider {
  readonly description: string;
  private readonly pool: KernelPool;
  private specsCache: Promise<{ default: string; specs: KernelSpecInfo[] }> | null = null;
  private closed: Promise<void> | null = null;
  private readonly early = new Map<string, Promise<KernelClient>>();
  /** Sessions being ended: a run of the session waits until its old kernel is gone. */
  private readonly ending = new Map<string, Promise<boolean>>();

  constructor(
    readonly endpoint: JupyterEndpoint,
    private readonly options: JupyterKernelProviderOptions = {},
  ) {
    this.description =
      options.description ?? `Jupyter server at ${new URL(endpoint.baseUrl).origin}`;
    this.pool = new KernelPool(endpoint, { size: options.poolSize ?? 0 });
  }

  kernelSpecs(): Promise<{ default: string; specs: KernelSpecInfo[] }> {
    this.specsCache ??= listKernelSpecs(this.endpoint);
    this.specsCache.catch(() => {
      this.specsCache = null;
    });
    return this.specsCache;
  }

  /** Throws KernelNotFoundError unless the server offers `name`. */
  async checkKernel(name: string): Promise<KernelSpecInfo> {
    const specs = await this.kernelSpecs();
    const spec = specs.specs.find((s) => s.name === name);
    if (spec === undefined) {
      throw new KernelNotFoundError(
        `unknown kernel "${name}" (available: ${specs.specs.map((s) => s.name).join(', ')})`,
      );
    }
    return spec;
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
    return claimed ?? KernelClient.start(this.endpoint, name);
  }

  async acquire(
    name: string,
    options: { session?: string; cwd?: string } = {},
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
    const base = this.endpoint.baseUrl.endsWith('/')
      ? this.endpoint.baseUrl
      : `${this.endpoint.baseUrl}/`;
    const headers = authHeaders(this.endpoint);
    const list = await fetch(new URL('api/sessions', base), { headers });
    const sessions = (await list.json()) as { id: string; path: string }[];
    const found = sessions.find((s) => s.path === path);
    if (found === undefined) {
      return false;
    }
    await fetch(new URL(`api/sessions/${found.id}`, base), { method: 'DELETE', headers });
    return true;
  }

  private async sessionKernel(name: string, session: string): Promise<AcquiredKernel> {
    await this.ending.get(session)?.catch(() => undefined);
    const path = `nbstage-sessions/${encodeURIComponent(session)}`;
    const base = this.endpoint.baseUrl.endsWith('/')
      ? this.endpoint.baseUrl
      : `${this.endpoint.baseUrl}/`;
    const headers = { ...authHeaders(this.endpoint), 'Content-Type': 'application/json' };
    const list = await fetch(new URL('api/sessions', base), { headers }).catch((err: Error) => {
      throw new UnreachableError(`cannot reach ${this.description}: ${err.message}`);
    });
    const sessions = (await list.json()) as {
      path: string;
      kernel: { id: string; name: string; execution_state?: string };
    }[];
    const existing = sessions.find((s) => s.path === path);
    if (
      existing !== undefined &&
      existing.kernel.name === name &&
      existing.kernel.execution_state !== 'dead'
    ) {
      const kernel = await KernelClient.connect(this.endpoint, { id: existing.kernel.id, name });
      return { kernel, fresh: false, session, staleEnv: true };
    }
    const res = await fetch(new URL('api/sessions', base), {
      method: 'POST',
      headers,
      body: JSON.stringify({ path, name: session, type: 'notebook', kernel: { name } }),
    });
    if (!res.ok) {
      throw new UnreachableError(
        `${this.description} answered ${res.status} creating session "${session}"`,
      );
    }
    const created = (await res.json()) as { kernel: { id: string; name: string } };
    const kernel = await KernelClient.connect(this.endpoint, { id: created.kernel.id, name });
    return { kernel, fresh: true, session, staleEnv: true };
  }

  async release(acquired: AcquiredKernel, keep: boolean): Promise<void> {
    if (acquired.session !== null && keep && acquired.kernel.dead === null) {
      acquired.kernel.disconnect();
      return;
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

/** Starts a supervised local Jupyter server and a provider on it; closing the provider stops it. */
export async function startLocalProvider(
  options: LocalJupyterServerOptions & { poolSize?: number } = {},
): Promise<JupyterKernelProvider> {
  const server = await LocalJupyterServer.start(options);
  return new JupyterKernelProvider(server.endpoint, {
    poolSize: options.poolSize,
    description: 'local Jupyter server',
    onClose: () => server.close(),
  });
}

/** A provider on the shared local server (started if needed), with spare kernels. */
export async function sharedLocalProvider(
  options: SharedServerOptions = {},
): Promise<JupyterKernelProvider> {
  const shared = await connectSharedServer(options);
  return new JupyterKernelProvider(shared.endpoint, {
    description: 'shared local Jupyter server',
    spares: new SpareKernels(shared.endpoint, `${shared.runtimeDir}/spares`),
  });
}

/** A provider on a remote Jupyter server or Enterprise Gateway (URL + token). */
export function remoteProvider(url: string, token: string, poolSize = 0): JupyterKernelProvider {
  return new JupyterKernelProvider({ baseUrl: url, token }, { poolSize });
}
