/**
 * The live stream of a run's events over a websocket at /api/v1/runs/<id>/stream: a client that
 * joins late first gets every event it missed (from `?from=N`, default 0), then live ones, in
 * order, each as `{ "seq": N, "event": {...} }`; the server closes with 1000 when the run is over.
 * Missed events are read back from the run's event log on disk, as fast as the client takes them.
 * Joining needs a token with role read (Authorization header, or `?token=` for browsers).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode } from '../../pipelines/errors';
import { authenticateRequest } from '../auth/middleware';
import type { TokenStore } from '../auth/types';
import type { RunManager } from '../runs/run-manager';

const PATH = /^\/api\/v1\/runs\/([0-9a-f-]{36})\/stream$/;

function reject(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Not Found'}\r\n` +
      'Content-Type: application/json\r\n' +
      (status === 401 ? 'WWW-Authenticate: Bearer realm="nbstage"\r\n' : '') +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Serves run streams on `server`'s upgrade requests; returns the websocket server. */
export function attachRunStream(
  server: Server,
  runs: RunManager,
  tokens: TokenStore,
): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = PATH.exec(url.pathname);
    if (match === null) {
      reject(socket, 404, ErrorCode.notFound, `no stream at ${url.pathname}`);
      return;
    }
    authenticateRequest(tokens, req).then(
      (principal) => {
        if (principal === null) {
          reject(socket, 401, ErrorCode.unauthorized, 'joining a stream needs a token');
          return;
        }
        const log = runs.events(match[1]);
        if (log === null) {
          reject(socket, 404, ErrorCode.notFound, `no run ${match[1]}`);
          return;
        }
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
