/**
 * The live stream of a run's events over a websocket at /api/v1/runs/<id>/stream: a client that
 * joins late first gets every event it missed (from `?from=N`, default 0), then live ones, in
 * order, each as `{ "seq": N, "event": {...} }`; the server closes with 1000 when the run is over.
 * Missed events are read back from the run's event log on disk, as fast as the client takes them.
 * Joining needs a token with role read (Authorization header, or `?token=` for browsers); a
 * client that failed to authenticate too often is refused with 429 and `Retry-After`, and so is
 * a token that already holds `NBSTAGE_MAX_STREAMS_PER_TOKEN` streams open (without
 * `Retry-After`: a slot comes free when one of them closes, which nothing here can foresee).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, RateLimitedError } from '../../pipelines/errors';
import type { Authenticator } from '../auth/authenticator';
import { authenticateRequest } from '../auth/middleware';
import type { RunManager } from '../runs/run-manager';

const PATH = /^\/api\/v1\/runs\/([0-9a-f-]{36})\/stream$/;

const REASONS: Readonly<Record<number, string>> = {
  401: 'Unauthorized',
  404: 'Not Found',
  429: 'Too Many Requests',
};

function reject(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ error: { code, message } });
  const extra = {
    ...(status === 401 ? { 'WWW-Authenticate': 'Bearer realm="nbstage"' } : {}),
    ...headers,
  };
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      Object.entries(extra)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** How many streams each token holds open, up to `max`. */
class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a slot of token `id`; false when it holds `max` already. */
  take(id: string): boolean {
    const held = this.open.get(id) ?? 0;
    if (held >= this.max) {
      return false;
    }
    this.open.set(id, held + 1);
    return true;
  }

  /** Gives a slot of token `id` back. */
  release(id: string): void {
    const held = (this.open.get(id) ?? 1) - 1;
    if (held <= 0) {
      this.open.delete(id);
    } else {
      this.open.set(id, held);
    }
  }
}

/** Serves run streams on `server`'s upgrade requests; returns the websocket server. */
export function attachRunStream(
  server: Server,
  runs: RunManager,
  auth: Authenticator,
): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const slots = new StreamSlots(auth.limits.maxStreamsPerToken);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = PATH.exec(url.pathname);
    if (match === null) {
      reject(socket, 404, ErrorCode.notFound, `no stream at ${url.pathname}`);
      return;
    }
    authenticateRequest(auth, req).then(
      (outcome) => {
        if (outcome !== null && !outcome.ok && outcome.limited) {
          const error = new RateLimitedError(outcome.retryAfter);
          reject(socket, 429, error.code, error.message, {
            'Retry-After': String(outcome.retryAfter),
          });
          return;
        }
        if (outcome === null || !outcome.ok) {
          reject(socket, 401, ErrorCode.unauthorized, 'joining a stream needs a token');
          return;
        }
        const log = runs.events(match[1]);
        if (log === null) {
          reject(socket, 404, ErrorCode.notFound, `no run ${match[1]}`);
          return;
        }
        const who = outcome.principal;
        if (socket.destroyed) {
          return; // the client left while its token was checked
        }
        if (!slots.take(who.id)) {
          reject(
            socket,
            429,
            ErrorCode.rateLimited,
            `token ${who.id} ("${who.name}") already has ${slots.max} run streams open, the most ` +
              'one token may (NBSTAGE_MAX_STREAMS_PER_TOKEN); close one first',
          );
          return;
        }
        // The socket closes however the stream ends (closed, failed, or a refused handshake).
        socket.once('close', () => slots.release(who.id));
        const from = Number(url.searchParams.get('from') ?? 0);
        wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          const unsubscribe = log.subscribe(
            {
              event: (logged) => {
                if (ws.readyState === ws.OPEN) {
                  // The event's JSON as logged: nothing is parsed or serialized again.
                  ws.send(`{"seq":${logged.seq},"event":${logged.raw}}`);
                }
              },
              backlog: () => ws.bufferedAmount,
              end: () => {
                ws.close(1000, 'run finished');
              },
            },
            Number.isInteger(from) && from >= 0 ? from : 0,
          );
          ws.on('close', unsubscribe);
          ws.on('error', unsubscribe);
        });
      },
      () => reject(socket, 401, ErrorCode.unauthorized, 'token check failed'),
    );
  });
  return wss;
}
