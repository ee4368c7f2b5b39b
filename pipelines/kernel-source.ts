/**
 * Where a run gets its kernels, as the runner sees it: the kernelspecs on offer, acquire, release.
 * `kernels/provider.ts`'s KernelProvider satisfies it; unit tests pass a fake.
 */
import { KernelNotFoundError } from './errors';
import type { ExecutorKernel, KernelSpecInfo } from './executor/kernel';

/**
 * {@link SetupKernel.run} on any executor kernel: `code` runs silently, out of the history;
 * rejects with the kernel's error name and value when it fails.
 */
export async function runSetupCode(kernel: ExecutorKernel, code: string): Promise<void> {
  const reply = await kernel.execute(code, { silent: true, storeHistory: false }).done;
  if (reply.content.status !== 'ok') {
    const content = reply.content as { ename?: string; evalue?: string };
    throw new Error(`kernel setup code failed: ${content.ename ?? ''}: ${content.evalue ?? ''}`);
  }
}

/** A kernel the runner can prepare before its cells run: setup code runs silently on it. */
export interface SetupKernel extends ExecutorKernel {
  /** Runs code silently and resolves when it is done; rejects when it fails. */
  run(code: string): Promise<void>;
}

/** A kernel handed to a run. */
export interface KernelLease {
  kernel: SetupKernel;
  /** False when a session's kernel is reused (it already ran the preamble). */
  fresh: boolean;
  /**
   * Whether the kernel's environment was inherited from an earlier process: the run then sets
   * the caller's environment variables in it.
   */
  staleEnv: boolean;
}

/** How a run wants its kernel. */
export interface AcquireOptions {
  /** The session whose kernel it is (kept between runs). */
  session?: string;
  /** Where the run works. */
  cwd?: string;
  /** The folders a sandboxed kernel may write. */
  writable?: string[];
  /** Device nodes a sandboxed kernel sees (a GPU lease's). */
  devices?: string[];
  /** `--memory`: a kernel with this limit (only kernels nbstage launches can have one). */
  memoryBytes?: number;
}

/** What the runner needs from a kernel provider. `L` is the provider's own lease type. */
export interface KernelSource<L extends KernelLease = KernelLease> {
  /** The kernelspecs on offer and the default. */
  kernelSpecs(): Promise<{ default: string; specs: KernelSpecInfo[] }>;
  /**
   * A kernel of `name`, from the session when one is named; the run works in `cwd`; a sandboxed
   * kernel sees the device nodes `devices` (a GPU lease's).
   */
  acquire(name: string, options?: AcquireOptions): Promise<L>;
  /** Gives a kernel back: session kernels stay alive when `keep`; others are shut down. */
  release(lease: L, keep: boolean): Promise<void>;
}

/**
 * The kernelspec called `name` among `specs` (a source's {@link KernelSource.kernelSpecs}).
 * @throws KernelNotFoundError naming the ones there are.
 */
export function kernelSpecNamed(specs: readonly KernelSpecInfo[], name: string): KernelSpecInfo {
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined) {
    throw new KernelNotFoundError(
      `unknown kernel "${name}" (available: ${specs.map((s) => s.name).join(', ')})`,
    );
  }
  return spec;
}
