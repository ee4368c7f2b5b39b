/**
 * The ZMQ sockets to one kernel: shell, control and stdin (DEALER), iopub (SUB, every topic)
 * and the heartbeat (DEALER echoed by the kernel's ROUTER). Messages are verified on the way in;
 * one that fails (a wrong HMAC, say) is dropped and logged, never handed on.
 */
import { Dealer, Subscriber } from 'zeromq';
import { channelUrl, type ConnectionInfo } from './connection';
import { WireError, type Session, type WireMessage } from './wire';

/** The channels messages are sent on. */
export type RequestChannel = 'shell' | 'control' | 'stdin';

/** The channels messages come in on. */
export type IncomingChannel = RequestChannel | 'iopub';

/** A log line's sink (`msg`, then structured fields). */
export type KernelLog = (msg: string, fields?: Record<string, unknown>) => void;

/** What the channels tell their kernel. */
export interface ChannelHandlers {
  /** A verified message on `channel`. */
  onMessage(channel: IncomingChannel, msg: WireMessage): void;
  /** The kernel has not echoed a heartbeat for `silentMs`. Told once. */
  onHeartbeatLost(silentMs: number): void;
}

/** The sockets of one kernel connection. {@link close} is idempotent. */
export class KernelChannels {
  private readonly sockets: Record<RequestChannel, Dealer>;
  private readonly iopub: Subscriber;
  private readonly hb: Dealer;
  private readonly sending = new Map<RequestChannel, Promise<void>>();
  private hbTimer: NodeJS.Timeout | null = null;
  private lastPong = Date.now();
  private closed = false;
  /** Settles once every socket has connected (watched only for `ipc`, see {@link connected}). */
  private readonly allConnected: Promise<void> | null;

  constructor(
    info: ConnectionInfo,
    private readonly session: Session,
    private readonly handlers: ChannelHandlers,
    private readonly log: KernelLog,
  ) {
    const options = { linger: 0 };
    this.sockets = {
      shell: new Dealer(options),
      control: new Dealer(options),
      stdin: new Dealer(options),
    };
    this.iopub = new Subscriber(options);
    this.hb = new Dealer(options);
    this.iopub.subscribe();
    // Connected before the kernel binds: ZMQ queues what is sent and connects when it can.
    for (const [name, socket] of Object.entries(this.sockets)) {
      socket.connect(channelUrl(info, name as RequestChannel));
      void this.receive(name as RequestChannel, socket);
    }
    this.iopub.connect(channelUrl(info, 'iopub'));
    void this.receive('iopub', this.iopub);
    this.hb.connect(channelUrl(info, 'hb'));
    void this.receivePongs();
    this.allConnected =
      info.transport === 'ipc'
        ? Promise.all(
            [...Object.values(this.sockets), this.iopub, this.hb].map(
              (socket) =>
                new Promise<void>((resolve) => {
                  socket.events.on('connect', () => resolve());
                }),
            ),
          ).then(() => undefined)
        : null;
  }

  /**
   * Resolves once all five sockets are connected (with `ipc`, the socket files can then go: a
   * connected Unix socket needs its path no more), or after `timeoutMs`, to false. With `tcp`
   * at once, to true: nothing is watched.
   */
  async connected(timeoutMs: number): Promise<boolean> {
    if (this.allConnected === null) {
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.allConnected.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Signs and queues `msg` on `channel` (ZMQ sockets take one send at a time). */
  send(channel: RequestChannel, msg: WireMessage): void {
    if (this.closed) {
      return;
    }
    const frames = this.session.serialize(msg);
    const socket = this.sockets[channel];
    const previous = this.sending.get(channel) ?? Promise.resolve();
    const next = previous
      .then(() => (this.closed ? undefined : socket.send(frames)))
      .catch((err: unknown) => {
        if (!this.closed) {
          this.log('could not send a kernel message', {
            channel,
            msgType: msg.header.msg_type,
            error: (err as Error).message,
          });
        }
      });
    this.sending.set(channel, next);
  }

  /**
   * Pings the heartbeat every `intervalMs`; tells {@link ChannelHandlers.onHeartbeatLost} once
   * when no echo came for `timeoutMs`.
   */
  startHeartbeat(intervalMs: number, timeoutMs: number): void {
    if (this.closed || this.hbTimer !== null) {
      return;
    }
    this.lastPong = Date.now();
    let told = false;
    let seq = 0;
    this.hbTimer = setInterval(() => {
      const silent = Date.now() - this.lastPong;
      if (silent > timeoutMs && !told) {
        told = true;
        this.handlers.onHeartbeatLost(silent);
      }
      this.hb.send(Buffer.from(`ping ${seq++}`)).catch(() => undefined);
    }, intervalMs);
    this.hbTimer.unref();
  }

  private async receive(channel: IncomingChannel, socket: Dealer | Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        let msg: WireMessage;
        try {
          msg = this.session.deserialize(frames);
        } catch (err) {
          if (!(err instanceof WireError)) {
            throw err;
          }
          this.log('dropped a kernel message', { channel, kind: err.kind, reason: err.message });
          continue;
        }
        this.handlers.onMessage(channel, msg);
      }
    } catch (err) {
      if (!this.closed) {
        this.log('kernel channel failed', { channel, error: (err as Error).message });
      }
    }
  }

  private async receivePongs(): Promise<void> {
    try {
      for await (const _frames of this.hb) {
        this.lastPong = Date.now();
      }
    } catch {
      // Closed.
    }
  }

  /**
   * Resolves once the messages already on their way in have been handed on: after `minMs`, and
   * then as soon as no socket has a message waiting (at most `maxMs` in all). A kernel that
   * exits right after a reply (the next cell kills it) is declared dead only after that reply.
   */
  async settle(minMs = 20, maxMs = 200): Promise<void> {
    const until = Date.now() + maxMs;
    await new Promise((resolve) => setTimeout(resolve, minMs));
    const incoming = [this.sockets.shell, this.sockets.control, this.iopub];
    while (!this.closed && Date.now() < until && incoming.some((s) => s.readable)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Closes every socket; what is still queued is dropped. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    if (this.hbTimer !== null) {
      clearInterval(this.hbTimer);
    }
    for (const socket of [...Object.values(this.sockets), this.iopub, this.hb]) {
      socket.close();
    }
  }
}
