/**
 * A warm kernel pool per kernelspec: kernels are started ahead of time so a run does not wait
 * for kernel start-up; a taken kernel is replaced in the background. Pooled kernels are single
 * use: a run's kernel is shut down afterwards (sessions keep theirs outside the pool).
 */
import type { JupyterEndpoint } from './endpoint';
import { KernelClient } from './kernel-client';

/** Options of {@link KernelPool}. */
export interface KernelPoolOptions {
  /** Warm kernels kept per kernelspec once one was asked for (0 = no pool). */
  size: number;
  /** Aborted when the server is gone: kernels still starting give up. */
  signal?: AbortSignal;
}

/** Warm kernels per kernelspec. */
export class KernelPool {
  private readonly warm = new Map<string, Promise<KernelClient>[]>();
  private closed = false;

  constructor(
    private readonly endpoint: JupyterEndpoint,
    private readonly options: KernelPoolOptions,
  ) {}

  /** Starts `count` kernels of `name` ahead of need. */
  prewarm(name: string, count: number): void {
    const list = this.warm.get(name) ?? [];
    while (!this.closed && list.length < count) {
      const starting = KernelClient.start(this.endpoint, name, { signal: this.options.signal });
      starting.catch(() => undefined);
      list.push(starting);
    }
    this.warm.set(name, list);
  }

  /** A live kernel of `name`: a warm one if there is one, else a new one. */
  async acquire(name: string): Promise<KernelClient> {
    const list = this.warm.get(name) ?? [];
    while (list.length > 0) {
      const candidate = list.shift();
      if (candidate === undefined) {
        break;
      }
      if (this.options.size > 0) {
        this.prewarm(name, this.options.size);
      }
      try {
        const kernel = await candidate;
        if (kernel.dead === null) {
          return kernel;
        }
      } catch {
        // A warm kernel that failed to start: try the next or start one now.
      }
    }
    if (this.options.size > 0) {
      this.prewarm(name, this.options.size);
    }
    return KernelClient.start(this.endpoint, name, { signal: this.options.signal });
  }

  /**
   * Drops the warm kernels without asking the server, which is gone: their connections stop
   * reconnecting. The pool takes no more kernels.
   */
  abandon(): void {
    this.closed = true;
    const all = [...this.warm.values()].flat();
    this.warm.clear();
    for (const p of all) {
      p.then((kernel) => kernel.lose('server-died')).catch(() => undefined);
    }
  }

  /** Shuts down the warm kernels. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.warm.values()].flat();
    this.warm.clear();
    await Promise.all(
      all.map(async (p) => {
        try {
          await (await p).shutdown();
        } catch {
          // never started
        }
      }),
    );
  }
}
