/**
 * A kernel provider with no Jupyter server: kernels are launched from the kernelspecs found
 * where `jupyter kernelspec list` finds them and spoken to over ZMQ ({@link ZmqKernel}), with
 * an optional warm pool per kernelspec. A long-lived owner (a worker) may keep session kernels
 * between runs (`sessions: true`); they live in this process and end with it.
 */
import { UnreachableError, UsageError } from '../../pipelines/errors';
import type { KernelSpecInfo } from '../../pipelines/executor/kernel';
import { KernelPool } from '../pool';
import { kernelSpecNamed, type AcquireOptions } from '../../pipelines/kernel-source';
import type { AcquiredKernel, KernelProvider, ProviderHealth } from '../provider';
import type { EarlyKernel } from './early-launch';
import { findKernelSpecs, NATIVE_KERNEL, type ZmqKernelSpec } from './kernelspecs';
import { ZmqKernel, type ZmqKernelOptions } from './zmq-kernel';

/** How long a kernel may take to answer kernel_info by default: NBSTAGE_KERNEL_START_TIMEOUT. */
export const DEFAULT_KERNEL_START_TIMEOUT_S = 60;

/**
 * The ready timeout of launched kernels, in ms: `NBSTAGE_KERNEL_START_TIMEOUT` seconds (default
 * 60). @throws UsageError naming the variable when it is not a positive number.
 */
export function kernelStartTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.NBSTAGE_KERNEL_START_TIMEOUT;
  if (raw === undefined || raw.trim() === '') {
    return DEFAULT_KERNEL_START_TIMEOUT_S * 1000;
  }
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(
      `NBSTAGE_KERNEL_START_TIMEOUT must be a positive number of seconds, not "${raw}"`,
    );
  }
  return seconds * 1000;
}

/** Options of {@link ZmqKernelProvider}. */
export interface ZmqKernelProviderOptions {
  /** Warm kernels kept ready per kernelspec once one was asked for (default 0). */
  poolSize?: number;
  /** The environment kernelspecs are looked up in and kernels start with (default this process's). */
  env?: NodeJS.ProcessEnv;
  /** Working directory of warm kernels and of kernels acquired without one (default this process's). */
  cwd?: string;
  /** How each kernel is started and stopped (ready timeout, heartbeat, runtime folder, log). */
  kernel?: Omit<ZmqKernelOptions, 'cwd' | 'env' | 'signal'>;
  /**
   * Keep session kernels between runs (default false: a session is refused, as the kernels of a
   * short-lived process such as `nbstage run` cannot outlive it).
   */
  sessions?: boolean;
  description?: string;
}

/** A session's kernel, kept between its runs. */
interface SessionKernel {
  name: string;
  kernel: ZmqKernel;
}

/** Kernels nbstage launches itself. Whoever creates it closes it. */
export class ZmqKernelProvider implements KernelProvider<ZmqKernel> {
  readonly description: string;
  private readonly pool: KernelPool<ZmqKernel>;
  private readonly handedOut = new Set<ZmqKernel>();
  private readonly sessions = new Map<string, SessionKernel>();
  /** A kernel launched before this provider was made, until a run takes it. */
  private adopted: {
    name: string;
    kernel: Promise<ZmqKernel>;
    memoryLimitBytes: number | undefined;
  } | null = null;
  private specsFound: Map<string, ZmqKernelSpec> | null = null;
  private closed: Promise<void> | null = null;

  constructor(private readonly options: ZmqKernelProviderOptions = {}) {
    this.description = options.description ?? 'kernels launched by nbstage (ZMQ)';
    this.pool = new KernelPool((name) => this.start(name, this.defaultCwd), {
      size: options.poolSize ?? 0,
    });
  }

  private get defaultCwd(): string {
    return this.options.cwd ?? process.cwd();
  }

  private specs(): Map<string, ZmqKernelSpec> {
    this.specsFound ??= findKernelSpecs(this.options.env ?? process.env);
    return this.specsFound;
  }

  /** The kernelspec of `name` as it is launched. @throws KernelNotFoundError */
  kernelSpec(name: string): ZmqKernelSpec {
    // Throws, naming the kernelspecs there are, when `name` is not one of them.
    const { name: found } = kernelSpecNamed(this.infos(), name);
    const spec = this.specs().get(found);
    if (spec === undefined) {
      throw new Error(`kernelspec ${found} listed but not found`);
    }
    return spec;
  }

  private infos(): KernelSpecInfo[] {
    return [...this.specs().values()].map(({ name, displayName, language }) => ({
      name,
      displayName,
      language,
    }));
  }

  /** The kernelspecs found (read once) and the default: `python3` when there is one. */
  kernelSpecs(): Promise<{ default: string; specs: KernelSpecInfo[] }> {
    const specs = this.infos();
    const fallback = specs.map((s) => s.name).sort()[0] ?? NATIVE_KERNEL;
    const preferred = specs.some((s) => s.name === NATIVE_KERNEL) ? NATIVE_KERNEL : fallback;
    return Promise.resolve({ default: preferred, specs });
  }

  /** Throws KernelNotFoundError unless a kernelspec `name` was found. */
  checkKernel(name: string): Promise<KernelSpecInfo> {
    return Promise.resolve().then(() => kernelSpecNamed(this.infos(), name));
  }

  /** Whether kernels can be had: always, until the provider is closed. */
  health(): ProviderHealth {
    return this.closed === null
      ? { ready: true }
      : { ready: false, reason: 'the kernel provider is closed' };
  }

  private start(
    name: string,
    cwd: string,
    devices: string[] = [],
    writable?: string[],
    memoryLimitBytes?: number,
  ): Promise<ZmqKernel> {
    if (this.closed !== null) {
      return Promise.reject(new UnreachableError('the kernel provider is closed'));
    }
    const sandbox = this.options.kernel?.sandbox;
    return Promise.resolve().then(() =>
      ZmqKernel.start(this.kernelSpec(name), {
        ...this.options.kernel,
        ...(sandbox === undefined
          ? {}
          : {
              sandbox: {
                ...sandbox,
                devices: [...(sandbox.devices ?? []), ...devices],
                ...(writable === undefined ? {} : { writable }),
              },
            }),
        env: this.options.env,
        cwd,
        ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
      }),
    );
  }

  /**
   * Takes over a kernel launched before this provider existed (an embedded run's head start):
   * the next {@link acquire} of its kernelspec in the default working directory gets it.
   */
  adopt(early: EarlyKernel | null): void {
    if (early === null || this.closed !== null || this.adopted !== null) {
      return;
    }
    const kernel = early.launch.then((launched) => {
      if (launched === null) {
        // It could not be launched: a run's own start says why.
        return this.start(early.name, this.defaultCwd, [], undefined, early.memoryLimitBytes);
      }
      return ZmqKernel.attach(launched.spec, launched.connection, launched.process, {
        ...this.options.kernel,
        env: launched.env,
        cwd: launched.cwd,
        ...(early.memoryLimitBytes === undefined
          ? {}
          : { memoryLimitBytes: early.memoryLimitBytes }),
      });
    });
    kernel.catch(() => undefined);
    this.adopted = { name: early.name, kernel, memoryLimitBytes: early.memoryLimitBytes };
  }

  /** Starts `count` kernels of `name` ahead of need; the next {@link acquire}s take them. */
  prewarm(name: string, count = 1): void {
    const more = this.adopted?.name === name ? count - 1 : count;
    if (this.closed === null && more > 0) {
      this.pool.prewarm(name, more);
    }
  }

  /**
   * A kernel of `name`: the session's when one is named and kept (started if new), else the one
   * adopted or a warm one; a sandboxed provider starts a new one in `cwd`, the run's folder.
   * @throws UsageError for a `session` when this provider keeps none.
   * @throws KernelNotFoundError for an unknown kernelspec.
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<AcquiredKernel<ZmqKernel>> {
    const session = options.session === '' ? undefined : options.session;
    if (session !== undefined && this.options.sessions !== true) {
      throw new UsageError(
        `session "${session}" needs a persistent Jupyter server: kernels nbstage ` +
          'launches itself end with their run',
      );
    }
    await this.checkKernel(name);
    if (session !== undefined) {
      const kept = this.sessions.get(session);
      if (
        kept !== undefined &&
        kept.name === name &&
        kept.kernel.dead === null &&
        kept.kernel.memory.limitBytes === (options.memoryBytes ?? null)
      ) {
        this.handedOut.add(kept.kernel);
        return { kernel: kept.kernel, fresh: false, session, staleEnv: true };
      }
      this.sessions.delete(session);
      await kept?.kernel.shutdown();
    }
    // A sandboxed kernel can write only where it started: it starts where the run works. Others
    // are warm (or new) and move there with the run's setup code. A kernel with a memory limit
    // starts with it (warm ones have none; the head start has the one `nbstage run` was given).
    const limit = options.memoryBytes;
    const here =
      this.options.kernel?.sandbox !== undefined && options.cwd !== undefined ? options.cwd : null;
    const adopted =
      this.adopted?.name === name && here === null && this.adopted.memoryLimitBytes === limit
        ? this.adopted
        : null;
    if (adopted !== null) {
      this.adopted = null;
    }
    const kernel =
      adopted !== null
        ? await adopted.kernel
        : here === null && limit === undefined
          ? await this.pool.acquire(name)
          : await this.start(
              name,
              here ?? options.cwd ?? this.defaultCwd,
              options.devices,
              options.writable,
              limit,
            );
    if (this.closed !== null) {
      await kernel.shutdown();
      throw new UnreachableError('the kernel provider is closed');
    }
    this.handedOut.add(kernel);
    if (session !== undefined) {
      this.sessions.set(session, { name, kernel });
      return { kernel, fresh: true, session, staleEnv: true };
    }
    return { kernel, fresh: true, session: null, staleEnv: false };
  }

  /** Gives a kernel back: a session's stays alive when `keep` and alive; others are shut down. */
  async release(acquired: AcquiredKernel<ZmqKernel>, keep: boolean): Promise<void> {
    this.handedOut.delete(acquired.kernel);
    const { session, kernel } = acquired;
    if (session !== null && keep && kernel.dead === null && this.closed === null) {
      return;
    }
    if (session !== null && this.sessions.get(session)?.kernel === kernel) {
      this.sessions.delete(session);
    }
    await kernel.shutdown();
  }

  /** Shuts down the kernel of `session` (idle or released by the queue). False if none. */
  async endSession(session: string): Promise<boolean> {
    const kept = this.sessions.get(session);
    if (kept === undefined) {
      return false;
    }
    this.sessions.delete(session);
    await kept.kernel.shutdown();
    return true;
  }

  /** Shuts down the warm kernels, the sessions' and those still handed out. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const out = new Set([...this.handedOut, ...[...this.sessions.values()].map((s) => s.kernel)]);
      this.handedOut.clear();
      this.sessions.clear();
      const adopted = this.adopted?.kernel;
      this.adopted = null;
      await adopted?.then((k) => k.shutdown()).catch(() => undefined);
      await Promise.all([this.pool.close(), ...[...out].map((k) => k.shutdown())]);
    })();
    return this.closed;
  }
}
