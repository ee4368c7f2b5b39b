/**
 * Where kernels live: a Jupyter server (local and supervised, remote, or an Enterprise Gateway)
 * reached by base URL and token, turned into @jupyterlab/services connection settings.
 */
import { ServerConnection } from '@jupyterlab/services';
import { PacedWebSocket } from './paced-websocket';

/** A Jupyter server nbstage talks to. The token never leaves the process. */
export interface JupyterEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:8888/`. */
  baseUrl: string;
  /** Websocket URL; derived from `baseUrl` when absent. */
  wsUrl?: string;
  /** The server's token ('' when it has none). */
  token: string;
}

/** Connection settings for @jupyterlab/services, using the `ws` package (paced) in Node. */
export function serverSettings(endpoint: JupyterEndpoint): ServerConnection.ISettings {
  const baseUrl = endpoint.baseUrl.endsWith('/') ? endpoint.baseUrl : `${endpoint.baseUrl}/`;
  const wsUrl = endpoint.wsUrl ?? baseUrl.replace(/^http/, 'ws');
  return ServerConnection.makeSettings({
    baseUrl,
    wsUrl,
    token: endpoint.token,
    appendToken: true,
    // ws implements the browser WebSocket interface @jupyterlab/services expects.
    WebSocket: PacedWebSocket as unknown as typeof globalThis.WebSocket,
  });
}

/** Headers for a direct REST call to the endpoint. */
export function authHeaders(endpoint: JupyterEndpoint): Record<string, string> {
  return endpoint.token === '' ? {} : { Authorization: `token ${endpoint.token}` };
}
