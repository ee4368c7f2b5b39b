/**
 * A client for one kernel on a Jupyter server, on @jupyterlab/services' KernelConnection over
 * `ws`: start, execute (requests may be pipelined; the kernel queues them), interrupt, shut down,
 * and a death signal for dead/restarting kernels and lost connections. It is the executor's
 * `ExecutorKernel` (pipelines/executor/kernel.ts) on a real server.
 */
import {
  KernelAPI,
  KernelConnection,
  type Kernel,
  type KernelMessage,
  type ServerConnection,
} from '@jupyterlab/services';
import { KernelDiedError, KernelNotFoundError, UnreachableError } from '../pipelines/errors';
import type {
  DeathReason,
  ExecuteCallbacks,
  ExecuteHandle,
  ExecuteOptions,
  ExecutorKernel,
  KernelLanguageInfo,
} from '../pipelines/executor/kernel';
import { DeathSignal } from '../pipelines/executor/kernel';
import { runSetupCode } from '../pipelines/kernel-source';
import { serverSettings, type JupyterEndpoint } from './endpoint';
import { JupyterRestError, jupyterJson, jupyterRequest, listKernelSpecs } from './jupyter-rest';

/**
 * The REST client a kernel connection asks about its kernel when its websocket closes. Once
 * nbstage is done with the connection, the kernel counts as dead: @jupyterlab/services would
 * otherwise keep asking an unreachable server every 10-30 s, from timers nothing can cancel,
 * and keep the process alive.
 */
class ConnectionRestClient implements Kernel.IKernelAPIClient {
  private readonly rest: KernelAPI.KernelAPIClient;

  constructor(
    settings: ServerConnection.ISettings,
    private readonly done: () => boolean,
  ) {
    this.rest = new KernelAPI.KernelAPIClient({ serverSettings: settings });
  }

  get serverSettings(): ServerConnection.ISettings {
    return this.rest.serverSettings;
  }

  listRunning(): Promise<Kernel.IModel[]> {
    return this.rest.listRunning();
  }

  async getModel(id: string): Promise<Kernel.IModel | undefined> {
    const dead: Kernel.IModel = { id, name: '', execution_state: 'dead' };
    if (this.done()) {
      return dead;
    }
    try {
      return await this.rest.getModel(id);
    } catch (err) {
      // A server that just died refuses the connection a moment before its supervisor says
      // so: give nbstage that moment to let go of the kernel before the library's retries.
      for (let waited = 0; waited < 2000 && !this.done(); waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (this.done()) {
        return dead;
      }
      throw err;
    }
  }

  startNew(options?: Kernel.IKernelOptions): Promise<Kernel.IModel> {
    return this.rest.startNew(options);
  }

  restart(id: string): Promise<void> {
    return this.rest.restart(id);
  }

  interrupt(id: string): Promise<void> {
    return this.rest.interrupt(id);
  }

  shutdown(id: string): Promise<void> {
    return this.rest.shutdown(id);
  }
}

/** One kernel on a Jupyter server. Whoever starts it owns it and calls {@link shutdown}. */
export class KernelClient implements ExecutorKernel {
  readonly id: string;
  readonly name: string;
  readonly endpoint: JupyterEndpoint;
  private readonly connection: Kernel.IKernelConnection;
  private readonly death = new DeathSignal();
  private shutdownPromise: Promise<void> | null = null;
  private closing = false;
  private languageInfo: KernelLanguageInfo = { name: '' };
  private readonly iopubHandlers = new Map<string, (msg: KernelMessage.IIOPubMessage) => void>();

  private constructor(endpoint: JupyterEndpoint, connection: Kernel.IKernelConnection) {
    this.endpoint = endpoint;
    this.connection = connection;
    this.id = connection.id;
    this.name = connection.name;
    // After an automatic restart the connection reconnects on its own from a promise nobody
    // awaits; if we close it first, that promise rejects. nbstage never reuses a restarted
    // kernel, so a failed reconnect is simply the end of this connection.
    const reconnect = connection.reconnect.bind(connection);
    connection.reconnect = () => reconnect().catch(() => undefined);
    // iopub is dispatched by parent id from the connection's stream of every iopub message, not
    // through futures: a future reroutes update_display_data to the future that first showed the
    // display id, which is long disposed when a later cell updates it.
    connection.iopubMessage.connect((_, msg) => {
      const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
      const handler = parent === undefined ? undefined : this.iopubHandlers.get(parent);
      if (handler !== undefined && parent !== undefined) {
        handler(msg);
        if (
          msg.header.msg_type === 'status' &&
          (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle'
        ) {
          this.iopubHandlers.delete(parent);
        }
      }
    });
    connection.statusChanged.connect((_, status) => {
      if (this.closing) {
        return;
      }
      if (status === 'dead') {
        this.die('dead');
      } else if (status === 'restarting' || status === 'autorestarting') {
        this.die('restarting');
      }
    });
    connection.connectionStatusChanged.connect((_, status) => {
      if (status === 'disconnected' && !this.closing) {
        this.die('disconnected');
      }
    });
  }

  /**
   * Starts a kernel of `name` and connects to it.
   * @throws KernelNotFoundError when the server has no such kernelspec.
   */
  static async start(
    endpoint: JupyterEndpoint,
    name: string,
    options: { path?: string; env?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<KernelClient> {
    let model: Kernel.IModel;
    try {
      model = await jupyterJson<Kernel.IModel>(endpoint, 'POST', 'api/kernels', {
        body: {
          name,
          ...(options.path === undefined ? {} : { path: options.path }),
          ...(options.env === undefined ? {} : { env: options.env }),
        },
      });
    } catch (err) {
      if (!(err instanceof JupyterRestError) || err.httpStatus === null) {
        throw err;
      }
      // jupyter_server answers 500 "Unhandled error" for an unknown kernelspec: ask the list.
      const specs = await listKernelSpecs(endpoint).catch(() => null);
      if (specs !== null && !specs.specs.some((s) => s.name === name)) {
        const names = specs.specs.map((s) => s.name).join(', ');
        throw new KernelNotFoundError(`unknown kernel "${name}" (available: ${names})`);
      }
      throw new UnreachableError(
        `Jupyter server answered ${err.httpStatus} starting kernel "${name}"` +
          (err.reason === '' ? '' : `: ${err.reason}`),
      );
    }
    return KernelClient.connect(endpoint, model, { signal: options.signal });
  }

  /**
   * Connects to a running kernel and waits for its kernel_info (60 s at most). Aborting
   * `signal` (the server it runs on is gone) gives up at once; a connection that fails is
   * disposed, so nothing keeps trying to reach the kernel.
   */
  static async connect(
    endpoint: JupyterEndpoint,
    model: Kernel.IModel,
    options: { signal?: AbortSignal } = {},
  ): Promise<KernelClient> {
    const settings = serverSettings(endpoint);
    let client: KernelClient | null = null;
    const connection = new KernelConnection({
      model,
      serverSettings: settings,
      kernelAPIClient: new ConnectionRestClient(settings, () => client?.closing ?? false),
      handleComms: false,
    });
    const opened = new KernelClient(endpoint, connection);
    client = opened;
    const cleanup: (() => void)[] = [];
    const failed = new Promise<never>((_, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new UnreachableError(`kernel ${model.name} did not answer kernel_info within 60 s`),
          ),
        60000,
      );
      timer.unref();
      cleanup.push(() => clearTimeout(timer));
      cleanup.push(
        opened.onDeath((reason) =>
          reject(
            new KernelDiedError(`kernel ${model.name} was lost before it answered (${reason})`),
          ),
        ),
      );
      const abort = (): void =>
        reject(new UnreachableError(`gave up connecting to kernel ${model.name}: server gone`));
      if (options.signal?.aborted === true) {
        abort();
      }
      options.signal?.addEventListener('abort', abort, { once: true });
      cleanup.push(() => options.signal?.removeEventListener('abort', abort));
    });
    let info: KernelMessage.IInfoReply;
    try {
      info = await Promise.race([connection.info, failed]);
    } catch (err) {
      opened.lose(opened.dead ?? 'dead');
      throw err;
    } finally {
      for (const undo of cleanup) {
        undo();
      }
    }
    const li = info.language_info as { name: string; version?: string };
    opened.languageInfo = {
      name: li.name,
      version: li.version,
      implementation: info.implementation,
    };
    return opened;
  }

  /** The kernel's language (from kernel_info). */
  get language(): KernelLanguageInfo {
    return this.languageInfo;
  }

  /** Why the kernel is gone, or null while it lives. */
  get dead(): DeathReason | null {
    return this.death.reason;
  }

  /** Calls `listener` once if the kernel dies, restarts or its connection is lost. */
  onDeath(listener: (reason: DeathReason) => void): () => void {
    return this.death.onDeath(listener);
  }

  /**
   * Marks the kernel gone for `reason` without asking the server (which may be gone itself):
   * death listeners are told at once and the connection stops trying to reconnect.
   */
  lose(reason: DeathReason): void {
    this.die(reason);
    this.closing = true;
    this.connection.dispose();
  }

  private die(reason: DeathReason): void {
    this.death.die(reason);
  }

  /** Sends an execute request; does not wait for earlier ones (the kernel queues them). */
  execute(
    code: string,
    options: ExecuteOptions = {},
    callbacks: ExecuteCallbacks = {},
  ): ExecuteHandle {
    if (this.death.reason !== null) {
      throw new KernelDiedError(`kernel ${this.name} is gone (${this.death.reason})`);
    }
    const future = this.connection.requestExecute(
      {
        code,
        silent: options.silent ?? false,
        store_history: options.storeHistory ?? !(options.silent ?? false),
        user_expressions: { ...options.userExpressions },
        allow_stdin: false,
        stop_on_error: options.stopOnError ?? true,
      },
      true,
    );
    const msgId = future.msg.header.msg_id;
    if (callbacks.onIOPub !== undefined) {
      this.iopubHandlers.set(msgId, callbacks.onIOPub);
      future.done.catch(() => this.iopubHandlers.delete(msgId));
    }
    if (callbacks.onReply !== undefined) {
      future.onReply = callbacks.onReply;
    }
    return { msgId, done: future.done };
  }

  /** Runs code silently and resolves when it is done; rejects when it fails. */
  run(code: string): Promise<void> {
    return runSetupCode(this, code);
  }

  /** Interrupts the kernel (SIGINT for ipykernel): a busy cell ends with KeyboardInterrupt. */
  async interrupt(): Promise<void> {
    if (this.death.reason === null && !this.closing) {
      // A kernel the server no longer knows (it just died) has nothing left to interrupt.
      await jupyterRequest(this.endpoint, 'POST', `api/kernels/${this.id}/interrupt`).catch(
        (err: unknown) => {
          if (!(err instanceof JupyterRestError) || err.httpStatus === null) {
            throw err;
          }
        },
      );
    }
  }

  /** Closes the connection and leaves the kernel running (a session keeps it). */
  disconnect(): void {
    this.closing = true;
    this.connection.dispose();
  }

  /** Shuts the kernel down and closes the connection. Idempotent. */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === null) {
      this.closing = true;
      this.shutdownPromise = (async () => {
        this.connection.dispose();
        try {
          await jupyterRequest(this.endpoint, 'DELETE', `api/kernels/${this.id}`);
        } catch {
          // The server is gone too: nothing left to shut down.
        }
      })();
    }
    return this.shutdownPromise;
  }
}
