/**
 * The kernel as the executor sees it: what a run needs from a live kernel (its name and language,
 * execute requests that may be pipelined, interrupt, shutdown, a death signal). `kernels/`
 * implements it on a Jupyter server; tests implement it with a scripted fake.
 */
import type { KernelMessage } from '@jupyterlab/services';

/** A kernelspec a kernel source offers. */
export interface KernelSpecInfo {
  name: string;
  displayName: string;
  language: string;
}

/** The kernel's language, from its kernel_info_reply. */
export interface KernelLanguageInfo {
  name: string;
  version?: string;
  implementation?: string;
}

/** Options of one execute request. */
export interface ExecuteOptions {
  silent?: boolean;
  storeHistory?: boolean;
  /** Abort the requests queued behind this one if it fails (default true). */
  stopOnError?: boolean;
  /**
   * Expressions the kernel evaluates after the cell, by key: the reply's `user_expressions`
   * answers each (ipykernel evaluates them only after a cell that succeeded). Default none.
   */
  userExpressions?: Readonly<Record<string, string>>;
}

/** Callbacks of one execute request. */
export interface ExecuteCallbacks {
  onIOPub?: (msg: KernelMessage.IIOPubMessage) => void;
  onReply?: (msg: KernelMessage.IExecuteReplyMsg) => void;
}

/** A request in flight: its id and a promise of its reply (after the kernel went idle). */
export interface ExecuteHandle {
  msgId: string;
  done: Promise<KernelMessage.IExecuteReplyMsg>;
}

/**
 * Why a kernel is gone: it died, it was restarted under the run, the connection to it was lost,
 * or the Jupyter server holding it died (its kernels die with it).
 */
export type DeathReason = 'dead' | 'restarting' | 'disconnected' | 'server-died';

/**
 * The peak resident memory of a kernel's process tree during each cell (kernels/zmq/tree-memory.ts
 * reads it from /proc): reset when the kernel starts a cell, read when it ends. Null: unknown.
 */
export interface KernelMemory {
  /** The kernel started a cell: peaks count from now. */
  cellStarted(): void;
  /** The cell ended: its peak in bytes (the last one seen, when the kernel is gone). */
  cellEnded(): number | null;
  /** The last peak seen of the current or last cell, without reading again. */
  readonly lastPeak: number | null;
  /** The memory limit the kernel runs under (`--memory`), in bytes, or null. */
  readonly limitBytes: number | null;
  /** The memory it could have without one: the machine's, or its cgroup's (bytes). */
  readonly machineBytes: number | null;
}

/** A live kernel the executor runs cells on. Whoever acquired it shuts it down. */
export interface ExecutorKernel {
  /** The kernelspec name (`python3`). */
  readonly name: string;
  /** The kernel's language (from kernel_info). */
  readonly language: KernelLanguageInfo;
  /** Why the kernel is gone, or null while it lives. */
  readonly dead: DeathReason | null;
  /**
   * How the kernel's process ended, in words (`exited with code 1`, `was killed by SIGKILL`),
   * when the kernel knows it (one nbstage launched itself does); the death's message says it.
   */
  readonly deathCause?: string | null;
  /** The signal that ended the kernel's process (`SIGKILL`), when it is known. */
  readonly deathSignal?: string | null;
  /** The kernelspec's command, when the kernel knows it (one nbstage launched itself does). */
  readonly argv?: readonly string[];
  /** The resident memory of the kernel's processes, cell by cell, when nbstage owns them. */
  readonly memory?: KernelMemory;
  /**
   * Sends an execute request without waiting for earlier ones (the kernel queues them).
   * Throws when the kernel is already gone.
   */
  execute(code: string, options?: ExecuteOptions, callbacks?: ExecuteCallbacks): ExecuteHandle;
  /** Interrupts the kernel: a busy cell ends with KeyboardInterrupt. */
  interrupt(): Promise<void>;
  /** Shuts the kernel down. Idempotent. */
  shutdown(): Promise<void>;
  /** Calls `listener` once when the kernel dies (at once if it is dead); returns an unsubscribe. */
  onDeath(listener: (reason: DeathReason) => void): () => void;
}

/**
 * A kernel's death, told once: {@link reason} is null while the kernel lives; each listener is
 * called once when it dies, or at once when it is dead already. Kernels hold one and answer
 * {@link ExecutorKernel.dead} and {@link ExecutorKernel.onDeath} from it.
 */
export class DeathSignal {
  private current: DeathReason | null = null;
  private readonly listeners = new Set<(reason: DeathReason) => void>();

  /** Why the kernel is gone, or null while it lives. */
  get reason(): DeathReason | null {
    return this.current;
  }

  /** Calls `listener` once on death (at once if dead already); returns an unsubscribe. */
  onDeath(listener: (reason: DeathReason) => void): () => void {
    if (this.current !== null) {
      listener(this.current);
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Marks the death and tells the listeners; false (and nothing told) when already dead. */
  die(reason: DeathReason): boolean {
    if (this.current !== null) {
      return false;
    }
    this.current = reason;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) {
      listener(reason);
    }
    return true;
  }
}
