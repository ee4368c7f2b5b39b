/**
 * The kernel websocket nbstage's processes use: the `ws` client, paced so that a kernel printing
 * as fast as it can never holds the event loop. A socket that has handed on 64 KiB of messages
 * in one turn of the event loop pauses until the next turn, so HTTP requests, other runs and
 * timers get their turn in between (the kernel's output waits in its socket meanwhile).
 */
import WebSocket from 'ws';

/** Bytes of messages one websocket hands on per turn of the event loop. */
export const TURN_BYTES = 64 * 1024;

function byteLength(data: WebSocket.RawData): number {
  if (Array.isArray(data)) {
    return data.reduce((n, part) => n + part.length, 0);
  }
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

/** A `ws` WebSocket that pauses for the rest of a turn after {@link TURN_BYTES}. */
export class PacedWebSocket extends WebSocket {
  constructor(
    address: string | URL,
    protocols?: string | string[],
    options?: WebSocket.ClientOptions,
  ) {
    super(address, protocols, options);
    let bytes = 0;
    let turn = false;
    const endTurn = (): void => {
      bytes = 0;
      turn = false;
      // Also while closing: the peer's close frame must still be read.
      if (this.isPaused) {
        this.resume();
      }
    };
    this.on('message', (data: WebSocket.RawData) => {
      if (!turn) {
        turn = true;
        setImmediate(endTurn);
      }
      bytes += byteLength(data);
      if (bytes >= TURN_BYTES && !this.isPaused) {
        this.pause();
      }
    });
  }
}
