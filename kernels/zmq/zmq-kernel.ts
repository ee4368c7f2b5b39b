/**
 * A kernel nbstage launches itself and talks ZMQ to, with no Jupyter server in between: ready
 * once it answers kernel_info, dead when its process exits or its heartbeat goes silent,
 * interrupted per the kernelspec's `interrupt_mode`, shut down over control, then SIGTERM, then
 * SIGKILL. It is the executor's kernel (`ExecutorKernel`) and the runner's `SetupKernel`.
 */
import type { KernelMessage } from '@jupyterlab/services';
import { CancelledError, KernelDiedError, UnreachableError } from '../../pipelines/errors';
import type {
  DeathReason,
  ExecuteCallbacks,
  ExecuteHandle,
  ExecuteOptions,
  KernelLanguageInfo,
} from '../../pipelines/executor/kernel';
import { DeathSignal } from '../../pipelines/executor/kernel';
import { runSetupCode, type SetupKernel } from '../../pipelines/kernel-source';
import { KernelChannels, type IncomingChannel, type KernelLog } from './channels';
import { writeConnectionFile, type ConnectionFile } from './connection';
import {
  describeExit,
  KernelProcess,
  type KernelExit,
  type KernelLaunchOptions,
} from './kernel-process';
import type { ZmqKernelSpec } from './kernelspecs';
import { TreeMemory } from './tree-memory';
import { Session, type JsonObject, type WireMessage } from './wire';

/** Options of {@link ZmqKernel.start}. */
export interface ZmqKernelOptions extends KernelLaunchOptions {
  /** How long the kernel has to answer kernel_info (default 60000 ms). */
  readyTimeoutMs?: number;
  /** Heartbeat ping interval (default 1000 ms). */
  heartbeatIntervalMs?: number;
  /** Silence after which the kernel counts as dead (default 10000 ms). */
  heartbeatTimeoutMs?: number;
  /**
   * How long each shutdown step waits for the exit, after the request and after SIGTERM
   * (default 500 ms, as the Jupyter server nbstage starts waits). ipykernel usually exits
   * 0.1-0.2 s after its shutdown_reply, but now and then not at all.
   */
  shutdownStepMs?: number;
  /** Where the private folder of the connection file is made (default the OS's temp folder). */
  runtimeDir?: string;
  /** Where dropped messages and channel failures are told (default stderr). */
  log?: KernelLog;
  /** Aborting gives up a start under way (CancelledError). */
  signal?: AbortSignal;
}

/** A request waiting for its reply and, when asked, the kernel's idle status after it. */
interface Pending {
  needIdle: boolean;
  reply: WireMessage | null;
  idle: boolean;
  onIOPub?: (msg: WireMessage) => void;
  onReply?: (msg: WireMessage) => void;
  replied: (msg: WireMessage) => void;
  resolve: (msg: WireMessage) => void;
  reject: (err: Error) => void;
}

const defaultLog: KernelLog = (msg, fields) =>
  process.stderr.write(
    `nbstage: ${msg}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}\n`,
  );

/** A message as @jupyterlab/services types it (the executor's callbacks take that shape). */
function asJupyterLab<T extends KernelMessage.IMessage>(msg: WireMessage, channel: string): T {
  const { identities: _ids, ...rest } = msg;
  return { ...rest, channel } as unknown as T;
}

/** One kernel process and its channels. Whoever starts it calls {@link shutdown}. */
export class ZmqKernel implements SetupKernel {
  readonly name: string;
  private readonly death = new DeathSignal();
  private readonly session: Session;
  private readonly channels: KernelChannels;
  private readonly pending = new Map<string, Pending>();
  private readonly log: KernelLog;
  private languageInfo: KernelLanguageInfo = { name: '' };
  private cause: string | null = null;
  private closing = false;
  private shutdownPromise: Promise<void> | null = null;
  /** Its process tree's memory, cell by cell. */
  readonly memory: TreeMemory;

  private constructor(
    readonly spec: ZmqKernelSpec,
    private readonly connection: ConnectionFile,
    private readonly child: KernelProcess,
    private readonly options: ZmqKernelOptions,
  ) {
    this.name = spec.name;
    this.memory = new TreeMemory(child.pid, options.memoryLimitBytes ?? null);
    const log = options.log ?? defaultLog;
    this.log = (msg, fields) => log(msg, { kernel: this.name, ...fields });
    this.session = new Session(connection.info.key);
    this.channels = new KernelChannels(
      connection.info,
      this.session,
      {
        onMessage: (channel, msg) => this.dispatch(channel, msg),
        onHeartbeatLost: (silentMs) => {
          this.lost(`stopped answering its heartbeat for ${silentMs} ms`);
          this.child.signal('SIGKILL');
        },
      },
      this.log,
    );
    // What the kernel sent before it exited is handed on before it counts as dead.
    void child.exited.then(async (exit) => {
      this.memory.stop();
      await this.channels.settle();
      this.lost(describeExit(exit));
    });
  }

  /**
   * Launches a kernel of `spec` and waits until it answers kernel_info.
   * @throws UnreachableError (exit 5) when it does not answer within the ready timeout, or its
   * process ends first (the kernel cannot be started: no cell ran on it).
   */
  static async start(spec: ZmqKernelSpec, options: ZmqKernelOptions = {}): Promise<ZmqKernel> {
    const transport = options.sandbox === undefined ? 'tcp' : (options.sandbox.transport ?? 'ipc');
    const connection = await writeConnectionFile(spec.name, options.runtimeDir, transport);
    let child: KernelProcess;
    try {
      child = KernelProcess.launch(spec, connection.path, options);
    } catch (err) {
      connection.remove();
      throw err;
    }
    return ZmqKernel.attach(spec, connection, child, options);
  }

  /**
   * Talks to a kernel process already launched on `connection` (an embedded run launches its
   * kernel before it has read the notebook) and waits until it answers kernel_info, as
   * {@link start} does; the kernel is this object's from here on.
   */
  static async attach(
    spec: ZmqKernelSpec,
    connection: ConnectionFile,
    child: KernelProcess,
    options: ZmqKernelOptions = {},
  ): Promise<ZmqKernel> {
    const kernel = new ZmqKernel(spec, connection, child, options);
    try {
      await kernel.waitReady(options.readyTimeoutMs ?? 60_000, options.signal);
      // A ready kernel has read its connection file: the key is on disk only while it starts,
      // so none is left behind when this process is SIGKILLed. Unix sockets go too once all
      // are connected: then no other process can reach the kernel, whatever it sees.
      connection.removeFile();
      if (await kernel.channels.connected(5000)) {
        connection.remove();
      }
    } catch (err) {
      await kernel.shutdown(true);
      throw err;
    }
    kernel.channels.startHeartbeat(
      options.heartbeatIntervalMs ?? 1000,
      options.heartbeatTimeoutMs ?? 10_000,
    );
    return kernel;
  }

  private async waitReady(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const cleanup: (() => void)[] = [];
    const failed = new Promise<never>((_, reject) => {
      const timer = setTimeout(() => {
        const where = this.spec.resourceDir === '' ? '' : ` (${this.spec.resourceDir})`;
        reject(
          new UnreachableError(
            `kernel ${this.name}${where} did not answer kernel_info within ${timeoutMs / 1000} s`,
          ),
        );
      }, timeoutMs);
      cleanup.push(() => clearTimeout(timer));
      cleanup.push(
        this.onDeath(() => {
          const output = this.child.lastLines(3);
          const said = output === '' ? '' : `: ${output}`;
          const where =
            this.spec.resourceDir === '' ? '' : `; its kernelspec is in ${this.spec.resourceDir}`;
          reject(
            new UnreachableError(
              `cannot start kernel ${this.name}: it ${this.cause ?? 'died'} before it was ready` +
                `${said}${where} (see nbstage doctor)`,
            ),
          );
        }),
      );
      const abort = (): void =>
        reject(new CancelledError(`start of kernel ${this.name} cancelled`));
      if (signal?.aborted === true) {
        abort();
      }
      signal?.addEventListener('abort', abort, { once: true });
      cleanup.push(() => signal?.removeEventListener('abort', abort));
    });
    try {
      // Ready when a kernel_info has been answered and its idle status seen on iopub: the
      // subscription is live then, so no output of the first cell is lost.
      for (;;) {
        const { msgId, replied, done } = this.request('shell', 'kernel_info_request', {}, true);
        const reply = await Promise.race([replied, failed]);
        let timer: NodeJS.Timeout | undefined;
        const idle = await Promise.race([
          done.then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), 300);
          }),
          failed,
        ]).finally(() => clearTimeout(timer));
        if (idle) {
          this.setLanguage(reply.content);
          return;
        }
        this.pending.delete(msgId);
      }
    } finally {
      for (const undo of cleanup) {
        undo();
      }
    }
  }

  private setLanguage(content: JsonObject): void {
    const li = (content.language_info ?? {}) as { name?: unknown; version?: unknown };
    this.languageInfo = {
      name: typeof li.name === 'string' ? li.name : this.spec.language,
      version: typeof li.version === 'string' ? li.version : undefined,
      implementation:
        typeof content.implementation === 'string' ? content.implementation : undefined,
    };
  }

  /** The kernel's language (from kernel_info). */
  get language(): KernelLanguageInfo {
    return this.languageInfo;
  }

  /** Why the kernel is gone, or null while it lives (and after a shutdown). */
  get dead(): DeathReason | null {
    return this.death.reason;
  }

  /** How the kernel's process ended ("exited with code 1", "was killed by SIGKILL"), or null. */
  get deathCause(): string | null {
    return this.cause;
  }

  /** The wrapper process's pid (its process group holds the kernel). */
  get pid(): number {
    return this.child.pid;
  }

  /** The signal that ended the kernel's process, or null (it runs, or it exited). */
  get deathSignal(): string | null {
    return this.child.exit?.signal ?? null;
  }

  /** The kernelspec's command. */
  get argv(): readonly string[] {
    return this.spec.argv;
  }

  /** How the kernel's process ended, or null while it runs. */
  get exit(): KernelExit | null {
    return this.child.exit;
  }

  /** Calls `listener` once when the kernel dies (at once if dead); returns an unsubscribe. */
  onDeath(listener: (reason: DeathReason) => void): () => void {
    return this.death.onDeath(listener);
  }

  private lost(cause: string): void {
    if (this.closing || this.death.reason !== null) {
      return;
    }
    this.cause = cause;
    this.death.die('dead');
    this.rejectAll(new KernelDiedError(`kernel ${this.name} ${cause}`));
  }

  private rejectAll(err: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.reject(err);
    }
  }

  private request(
    channel: 'shell' | 'control',
    msgType: string,
    content: JsonObject,
    needIdle: boolean,
    callbacks: Pick<Pending, 'onIOPub' | 'onReply'> = {},
  ): { msgId: string; replied: Promise<WireMessage>; done: Promise<WireMessage> } {
    const msg = this.session.message(msgType, content);
    let replied: (reply: WireMessage) => void = () => undefined;
    const repliedPromise = new Promise<WireMessage>((resolve) => {
      replied = resolve;
    });
    const done = new Promise<WireMessage>((resolve, reject) => {
      this.pending.set(msg.header.msg_id, {
        needIdle,
        reply: null,
        idle: false,
        ...callbacks,
        replied,
        resolve,
        reject,
      });
    });
    done.catch(() => undefined);
    this.channels.send(channel, msg);
    return { msgId: msg.header.msg_id, replied: repliedPromise, done };
  }

  private dispatch(channel: IncomingChannel, msg: WireMessage): void {
    if (channel === 'stdin') {
      // Requests go with allow_stdin false, as through a Jupyter server: input() raises
      // StdinNotImplementedError in the kernel. A kernel that asks anyway is not answered.
      this.log('kernel asked for input; not answered', { msgType: msg.header.msg_type });
      return;
    }
    const parent = msg.parent_header.msg_id;
    const p = parent === undefined ? undefined : this.pending.get(parent);
    if (p === undefined || parent === undefined) {
      return;
    }
    if (channel === 'iopub') {
      p.onIOPub?.(msg);
      if (msg.header.msg_type === 'status' && msg.content.execution_state === 'idle') {
        p.idle = true;
      }
    } else if (msg.header.msg_type.endsWith('_reply')) {
      p.reply = msg;
      p.replied(msg);
      p.onReply?.(msg);
    }
    if (p.reply !== null && (p.idle || !p.needIdle)) {
      this.pending.delete(parent);
      p.resolve(p.reply);
    }
  }

  /** Sends an execute request; does not wait for earlier ones (the kernel queues them). */
  execute(
    code: string,
    options: ExecuteOptions = {},
    callbacks: ExecuteCallbacks = {},
  ): ExecuteHandle {
    if (this.death.reason !== null || this.closing) {
      throw new KernelDiedError(
        `kernel ${this.name} is gone (${this.death.reason ?? 'shut down'})`,
      );
    }
    const { onIOPub, onReply } = callbacks;
    const { msgId, done } = this.request(
      'shell',
      'execute_request',
      {
        code,
        silent: options.silent ?? false,
        store_history: options.storeHistory ?? !(options.silent ?? false),
        user_expressions: options.userExpressions ?? {},
        allow_stdin: false,
        stop_on_error: options.stopOnError ?? true,
      },
      true,
      {
        onIOPub: onIOPub && ((m) => onIOPub(asJupyterLab<KernelMessage.IIOPubMessage>(m, 'iopub'))),
        onReply:
          onReply && ((m) => onReply(asJupyterLab<KernelMessage.IExecuteReplyMsg>(m, 'shell'))),
      },
    );
    const reply = done.then((m) => asJupyterLab<KernelMessage.IExecuteReplyMsg>(m, 'shell'));
    // A request the kernel's death or shutdown ends may never be awaited.
    reply.catch(() => undefined);
    return { msgId, done: reply };
  }

  /** Runs code silently and resolves when it is done; rejects when it fails. */
  run(code: string): Promise<void> {
    return runSetupCode(this, code);
  }

  /**
   * Interrupts the kernel per its kernelspec: SIGINT to its process group (`signal`, the
   * default) or an `interrupt_request` on control (`message`).
   */
  async interrupt(): Promise<void> {
    if (this.death.reason !== null || this.closing) {
      return;
    }
    if (this.spec.interruptMode === 'message') {
      this.channels.send('control', this.session.message('interrupt_request', {}));
    } else {
      this.child.signal('SIGINT');
    }
  }

  /**
   * Shuts the kernel down: `shutdown_request` on control, SIGTERM when it has not exited after
   * a step (0.5 s), SIGKILL after another; then closes the channels and removes the connection
   * file. `now` skips to SIGKILL. Idempotent.
   */
  shutdown(now = false): Promise<void> {
    this.shutdownPromise ??= (async () => {
      this.closing = true;
      this.rejectAll(new KernelDiedError(`kernel ${this.name} was shut down`));
      const step = this.options.shutdownStepMs ?? 500;
      if (this.child.exit === null && !now) {
        this.channels.send('control', this.session.message('shutdown_request', { restart: false }));
        if (!(await this.child.waitExit(step))) {
          this.child.signal('SIGTERM');
        }
      }
      if (!(await this.child.waitExit(now ? 0 : step))) {
        this.child.signal('SIGKILL');
        await this.child.exited;
      }
      this.channels.close();
      this.connection.remove();
    })();
    return this.shutdownPromise;
  }
}
