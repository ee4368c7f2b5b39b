/**
 * A scripted kernel for executor tests: it implements the executor's kernel interface and
 * behaves like ipykernel behind @jupyterlab/services, with each cell's behaviour scripted by its
 * source (outputs, error, busy time, hang, death). Requests queue and run one at a time; with
 * stop_on_error an error aborts the requests queued behind it; a request's `done` resolves once
 * both its reply and its `idle` came; death tells the death listeners first, then cancels every
 * pending request; a reply answers the request's user expressions from the cell's script, as
 * ipykernel does only after a cell that succeeded. Everything it is asked and does is logged in
 * order.
 */
import type { KernelMessage } from '@jupyterlab/services';
import { KernelDiedError } from '../../../../pipelines/errors';
import type {
  DeathReason,
  ExecuteCallbacks,
  ExecuteHandle,
  ExecuteOptions,
  KernelLanguageInfo,
} from '../../../../pipelines/executor/kernel';
import { DeathSignal } from '../../../../pipelines/executor/kernel';
import type { SetupKernel } from '../../../../pipelines/kernel-source';

/** One output a scripted cell sends. */
export type FakeOutput =
  | { stream: string; name?: 'stdout' | 'stderr' }
  | { display: string; displayId?: string }
  | { data: Record<string, unknown> }
  | { result: string };

/** What one cell (matched by its source) does. */
export interface CellScript {
  outputs?: FakeOutput[];
  /** The cell raises: an error output, then an error reply. */
  error?: { ename: string; evalue: string };
  /** Milliseconds between the cell's busy and its idle (default 1). */
  durationMs?: number;
  /** Runs until interrupted or the kernel dies. */
  hang?: boolean;
  /** With `hang`: an interrupt does not stop it (the executor must kill the kernel). */
  ignoresInterrupt?: boolean;
  /** The kernel dies while running the cell, after its outputs. */
  dieWith?: DeathReason;
  /** How the kernel's process ended, as a kernel nbstage launched itself reports it. */
  deathCause?: string;
  /** The kernel dies right after the cell's reply, before its idle (killed outright). */
  dieAfterReply?: DeathReason;
  /** The `text/plain` answer of each user expression (any other is a NameError). */
  expressions?: Record<string, string>;
}

interface Request {
  code: string;
  msgId: string;
  options: ExecuteOptions;
  callbacks: ExecuteCallbacks;
  resolve: (reply: KernelMessage.IExecuteReplyMsg) => void;
  reject: (err: Error) => void;
  abort: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A kernel whose cells do what their scripts say. */
export class FakeKernel implements SetupKernel {
  readonly language: KernelLanguageInfo;
  /** What happened, in order: `send <code>`, `busy <code>`, `reply <code>`, `interrupt`, ... */
  readonly log: string[] = [];
  /** The user expressions of each request, in order (`{}` when it asked none). */
  readonly asked: Record<string, string>[] = [];
  private readonly death = new DeathSignal();
  private readonly queue: Request[] = [];
  private current: Request | null = null;
  private pumping = false;
  private count = 0;
  private ids = 0;
  private wake: ((why: 'interrupt' | 'dead') => void) | null = null;
  private closed = false;

  constructor(
    readonly name = 'python3',
    private readonly script: Record<string, CellScript> = {},
    language = 'python',
  ) {
    this.language = { name: language, version: '3.12' };
  }

  get dead(): DeathReason | null {
    return this.death.reason;
  }

  /** Whether {@link shutdown} was called. */
  get shutDown(): boolean {
    return this.closed;
  }

  onDeath(listener: (reason: DeathReason) => void): () => void {
    return this.death.onDeath(listener);
  }

  execute(
    code: string,
    options: ExecuteOptions = {},
    callbacks: ExecuteCallbacks = {},
  ): ExecuteHandle {
    if (this.death.reason !== null || this.closed) {
      throw new KernelDiedError(`kernel ${this.name} is gone`);
    }
    const msgId = `${this.name}-${++this.ids}`;
    let resolve: Request['resolve'] = () => undefined;
    let reject: Request['reject'] = () => undefined;
    const done = new Promise<KernelMessage.IExecuteReplyMsg>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.queue.push({ code, msgId, options, callbacks, resolve, reject, abort: false });
    this.asked.push({ ...options.userExpressions });
    this.log.push(`send ${code}`);
    void this.pump();
    return { msgId, done };
  }

  async run(code: string): Promise<void> {
    this.log.push(`setup ${code}`);
    const reply = await this.execute(code, { silent: true, storeHistory: false }).done;
    if (reply.content.status !== 'ok') {
      throw new Error('kernel setup code failed');
    }
  }

  async interrupt(): Promise<void> {
    this.log.push('interrupt');
    const script = this.current === null ? undefined : this.script[this.current.code];
    if (script?.ignoresInterrupt !== true) {
      this.wake?.('interrupt');
    }
  }

  async shutdown(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.log.push('shutdown');
      this.cancelAll();
    }
  }

  /** How the process ended, when the script says (null: unknown, as on a Jupyter server). */
  deathCause: string | null = null;

  /** Kills the kernel now: death listeners first, then every pending request is cancelled. */
  die(reason: DeathReason = 'dead'): void {
    if (this.death.reason !== null) {
      return;
    }
    this.log.push(`died ${reason}`);
    this.death.die(reason);
    this.cancelAll();
  }

  private cancelAll(): void {
    this.wake?.('dead');
    for (const r of [...(this.current === null ? [] : [this.current]), ...this.queue.splice(0)]) {
      r.reject(new Error(`Canceled future for execute_request message before replies were done`));
    }
    this.current = null;
  }

  private gone(): boolean {
    return this.death.reason !== null || this.closed;
  }

  private iopub(r: Request, msgType: string, content: object): void {
    if (this.gone()) {
      return;
    }
    r.callbacks.onIOPub?.({
      header: {
        msg_type: msgType,
        msg_id: `${r.msgId}-${msgType}`,
        date: new Date().toISOString(),
      },
      parent_header: { msg_id: r.msgId },
      metadata: {},
      content,
      channel: 'iopub',
    } as unknown as KernelMessage.IIOPubMessage);
  }

  private reply(r: Request, content: object): KernelMessage.IExecuteReplyMsg {
    const msg = {
      header: {
        msg_type: 'execute_reply',
        msg_id: `${r.msgId}-reply`,
        date: new Date().toISOString(),
      },
      parent_header: { msg_id: r.msgId },
      metadata: {},
      content,
      channel: 'shell',
    } as unknown as KernelMessage.IExecuteReplyMsg;
    r.callbacks.onReply?.(msg);
    return msg;
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      return;
    }
    this.pumping = true;
    await sleep(0);
    while (this.queue.length > 0 && !this.gone()) {
      const r = this.queue.shift() as Request;
      this.current = r;
      await this.process(r);
      this.current = null;
      await sleep(0);
    }
    this.pumping = false;
  }

  /** The reply's answers to the request's user expressions, as ipykernel formats them. */
  private answers(r: Request, script: CellScript): Record<string, object> {
    const out: Record<string, object> = {};
    for (const [key, expression] of Object.entries(r.options.userExpressions ?? {})) {
      const answer = script.expressions?.[expression];
      out[key] =
        answer === undefined
          ? { status: 'error', ename: 'NameError', evalue: expression, traceback: [] }
          : { status: 'ok', data: { 'text/plain': answer }, metadata: {} };
    }
    return out;
  }

  private async process(r: Request): Promise<void> {
    const script = this.script[r.code] ?? {};
    this.iopub(r, 'status', { execution_state: 'busy' });
    if (r.abort) {
      this.log.push(`aborted ${r.code}`);
      this.iopub(r, 'status', { execution_state: 'idle' });
      r.resolve(this.reply(r, { status: 'aborted', execution_count: null }));
      return;
    }
    this.log.push(`busy ${r.code}`);
    const silent = r.options.silent === true;
    const count = silent ? this.count : ++this.count;
    if (!silent) {
      this.iopub(r, 'execute_input', { code: r.code, execution_count: count });
    }
    for (const out of script.outputs ?? []) {
      await sleep(0);
      if ('stream' in out) {
        this.iopub(r, 'stream', { name: out.name ?? 'stdout', text: out.stream });
      } else if ('data' in out) {
        this.iopub(r, 'display_data', { data: out.data, metadata: {}, transient: {} });
      } else if ('display' in out) {
        this.iopub(r, 'display_data', {
          data: { 'text/plain': out.display },
          metadata: {},
          transient: out.displayId === undefined ? {} : { display_id: out.displayId },
        });
      } else {
        this.iopub(r, 'execute_result', {
          data: { 'text/plain': out.result },
          metadata: {},
          execution_count: count,
        });
      }
    }
    if (script.dieWith !== undefined) {
      this.deathCause = script.deathCause ?? null;
      this.die(script.dieWith);
      return;
    }
    let error = script.error;
    if (script.hang === true) {
      const why = await new Promise<'interrupt' | 'dead'>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
      if (why === 'dead') {
        return;
      }
      error = { ename: 'KeyboardInterrupt', evalue: '' };
    } else {
      await sleep(script.durationMs ?? 1);
    }
    if (this.gone()) {
      return;
    }
    const traceback = error === undefined ? [] : [`${error.ename}: ${error.evalue}`];
    if (error !== undefined) {
      this.iopub(r, 'error', { ...error, traceback });
      if (r.options.stopOnError !== false) {
        for (const queued of this.queue) {
          queued.abort = true;
        }
      }
    }
    this.log.push(`reply ${r.code}`);
    const reply = this.reply(
      r,
      error === undefined
        ? { status: 'ok', execution_count: count, user_expressions: this.answers(r, script) }
        : { status: 'error', execution_count: count, ...error, traceback, user_expressions: {} },
    );
    if (script.dieAfterReply !== undefined) {
      this.die(script.dieAfterReply);
      return;
    }
    this.iopub(r, 'status', { execution_state: 'idle' });
    r.resolve(reply);
  }
}
