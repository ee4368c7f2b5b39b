/**
 * A warm kernel pool per kernelspec: kernels are started ahead of time so a run does not wait
 * for kernel start-up; a taken kernel is replaced in the background. Pooled kernels are single
 * use: a run's kernel is shut down afterwards (sessions keep theirs outside the pool). Kernels
 * come from a start function: on a Jupyter server, or launched by nbstage itself.
 */
import type { DeathReason } from '../pipelines/executor/kernel';

/** Options of {@link KernelPool}. */
export interface KernelPoolOptions {
  /** Warm kernels kept per kernelspec once one was asked for (0 = no pool). */
  size: number;
}

/** What the pool needs of a kernel. */
export interface PoolKernel {
  readonly dead: DeathReason | null;
  shutdown(): Promise<void>;
}

/** Warm kernels per kernelspec; `start` makes a live kernel of a kernelspec name. */
export class KernelPool<K extends PoolKernel> {
  private readonly warm = new Map<string, Promise<K>[]>();
  private closed = false;

  constructor(
    private readonly start: (name: string) => Promise<K>,
    private readonly options: KernelPoolOptions,
  ) {}

  /** Starts `count` kernels of `name` ahead of need. */
  prewarm(name: string, count: number): void {
    const list = this.warm.get(name) ?? [];
    while (!this.closed && list.length < count) {
      const starting = this.start(name);
      starting.catch(() => undefined);
      list.push(starting);
    }
    this.warm.set(name, list);
  }

  /** A live kernel of `name`: a warm one if there is one, else a new one. */
  async acquire(name: string): Promise<K> {
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
    return this.start(name);
  }

  /**
   * Drops the warm kernels without shutting them down (their server is gone): each that
   * started is handed to `drop`. The pool takes no more kernels.
   */
  abandon(drop: (kernel: K) => void): void {
    this.closed = true;
    const all = [...this.warm.values()].flat();
    this.warm.clear();
    for (const p of all) {
      p.then(drop).catch(() => undefined);
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
