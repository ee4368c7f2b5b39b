/**
 * A byte-counting TCP proxy for the bench: a `net` server on a free local port that forwards
 * every connection to a target port, both ways, and counts the bytes each way as they pass. The
 * counts are TCP payload (HTTP headers, bodies and websocket frames alike), taken on the wire,
 * not from what the code under test says it sent.
 */
import net from 'node:net';

/** Bytes seen so far, each way, and the connections accepted. */
export interface WireCounts {
  /** Client to service. */
  up: number;
  /** Service to client. */
  down: number;
  connections: number;
}

/** A running proxy. */
export interface WireProxy {
  /** `http://127.0.0.1:PORT` of the proxy. */
  url: string;
  /** A copy of the counts so far. */
  counts(): WireCounts;
  /**
   * Resolves once no connection is open (every client has closed its side and all it sent was
   * counted); rejects after `timeoutMs`.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Closes the server and every connection. */
  close(): Promise<void>;
}

/** The counts of `after` minus `before`. */
export function wireDelta(before: WireCounts, after: WireCounts): WireCounts {
  return {
    up: after.up - before.up,
    down: after.down - before.down,
    connections: after.connections - before.connections,
  };
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export async function startWireProxy(targetPort: number): Promise<WireProxy> {
  const counts: WireCounts = { up: 0, down: 0, connections: 0 };
  const open = new Set<net.Socket>();
  let waiters: (() => void)[] = [];
  const settle = (): void => {
    if (open.size === 0) {
      const ready = waiters;
      waiters = [];
      ready.forEach((w) => w());
    }
  };
  const server = net.createServer((client) => {
    counts.connections += 1;
    open.add(client);
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      counts.up += d.length;
    });
    upstream.on('data', (d: Buffer) => {
      counts.down += d.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', () => {
      upstream.destroy();
      open.delete(client);
      settle();
    });
    // Once the service has gone, what it sent is handed on and the connection ends, also when
    // the client's side is paused with bytes the service never read (it answered early).
    upstream.on('close', () => {
      if (!client.destroyed) {
        client.end(() => client.destroy());
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    idle: (timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (open.size === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(
          () => reject(new Error(`the proxy still had ${open.size} connections open`)),
          timeoutMs,
        );
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
