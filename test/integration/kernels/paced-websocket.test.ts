/**
 * The paced kernel websocket over a real local `ws` server that sends 4 MB of messages at once:
 * the client hands on about 64 KiB per turn of the event loop, so work scheduled for the next
 * turn (an HTTP request's callback, a timer) runs between batches instead of after all of them;
 * every message still arrives, in order; and a close while paused completes its handshake.
 */
import type { AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { PacedWebSocket, TURN_BYTES } from '../../../kernels/paced-websocket';

const MESSAGE_BYTES = 10_000;
const MESSAGES = 400;

/** Messages delivered before each turn of the event loop came round, and all of them in order. */
async function receive(
  Client: typeof WebSocket,
): Promise<{ perTurn: number[]; order: number[]; code: number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => {
    for (let i = 0; i < MESSAGES; i++) {
      socket.send(`${String(i).padStart(6, '0')}${'x'.repeat(MESSAGE_BYTES - 6)}`);
    }
  });
  const port = (server.address() as AddressInfo).port;
  const client = new Client(`ws://127.0.0.1:${port}/`);
  const order: number[] = [];
  const perTurn: number[] = [];
  let inTurn = 0;
  let watching = false;
  const watchTurn = (): void => {
    perTurn.push(inTurn);
    inTurn = 0;
    if (order.length < MESSAGES) {
      setImmediate(watchTurn);
    } else {
      watching = false;
    }
  };
  await new Promise<void>((resolve) => {
    client.on('message', (data: WebSocket.RawData) => {
      order.push(Number(data.toString().slice(0, 6)));
      inTurn += 1;
      if (!watching) {
        watching = true;
        setImmediate(watchTurn);
      }
      if (order.length === MESSAGES) {
        resolve();
      }
    });
  });
  // Closing while paused still completes the handshake (the peer's close frame is read).
  const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
  client.close(1000);
  const code = await closed;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { perTurn: perTurn.filter((n) => n > 0), order, code };
}

describe('PacedWebSocket', () => {
  it('hands on at most about 64 KiB of messages per turn of the event loop, all in order', async () => {
    const { perTurn, order, code } = await receive(PacedWebSocket as unknown as typeof WebSocket);
    expect(order).toEqual([...Array(MESSAGES).keys()]);
    expect(code).toBe(1000);
    // A pause takes effect after the chunk being parsed (up to 64 KiB more).
    const most = Math.ceil((TURN_BYTES + 64 * 1024) / MESSAGE_BYTES) + 1;
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(most);
    expect(perTurn.length).toBeGreaterThanOrEqual(
      Math.floor((MESSAGES * MESSAGE_BYTES) / (TURN_BYTES + 64 * 1024)),
    );
  });
});
