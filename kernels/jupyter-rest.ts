/**
 * The parts of a Jupyter server's REST API nbstage calls itself (status, kernelspecs, sessions),
 * as stateless functions over an endpoint, like JupyterLab's `restapi.ts`: one timeout, one
 * error type naming the server and the request. Kernels themselves go through
 * @jupyterlab/services.
 */
import { STATUS_CODES } from 'node:http';
import { UnreachableError } from '../pipelines/errors';
import type { KernelSpecInfo } from '../pipelines/executor/kernel';
import { authHeaders, type JupyterEndpoint } from './endpoint';

/** How long one REST request may take (a kernel's start is the slowest: tens of seconds). */
export const JUPYTER_REST_TIMEOUT_MS = 60_000;

/** A Jupyter server could not be reached, or answered a request with an error status. */
export class JupyterRestError extends UnreachableError {
  /** The HTTP status the server answered with; null when it did not answer. */
  readonly httpStatus: number | null;
  /** What the server said besides the status ('' when nothing). */
  readonly reason: string;
  constructor(message: string, httpStatus: number | null, reason = '') {
    super(message);
    this.httpStatus = httpStatus;
    this.reason = reason;
  }
}

/** A kernelspec the server offers (the executor's type: runs choose kernels by it). */
export type { KernelSpecInfo };

/** A Jupyter session as `api/sessions` lists it. */
export interface SessionModel {
  id: string;
  path: string;
  name?: string;
  kernel: { id: string; name: string; execution_state?: string };
}

function url(endpoint: JupyterEndpoint, route: string): URL {
  const base = endpoint.baseUrl.endsWith('/') ? endpoint.baseUrl : `${endpoint.baseUrl}/`;
  return new URL(route, base);
}

/**
 * Sends one request and resolves to the server's answer when it is a success.
 *
 * @throws JupyterRestError when the server cannot be reached, takes longer than `timeoutMs`, or
 *   answers with an error status
 */
export async function jupyterRequest(
  endpoint: JupyterEndpoint,
  method: string,
  route: string,
  options: { body?: unknown; timeoutMs?: number } = {},
): Promise<Response> {
  const where = `${method} /${route}`;
  let res: Response;
  try {
    res = await fetch(url(endpoint, route), {
      method,
      headers: { ...authHeaders(endpoint), 'Content-Type': 'application/json' },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? JUPYTER_REST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new JupyterRestError(
      `cannot reach Jupyter server at ${new URL(endpoint.baseUrl).origin} (${where}): ${(err as Error).message}`,
      null,
    );
  }
  if (!res.ok) {
    const reason = await errorReason(res);
    throw new JupyterRestError(
      `Jupyter server answered ${res.status} to ${where}${reason === '' ? '' : `: ${reason}`}`,
      res.status,
      reason,
    );
  }
  return res;
}

/** Most characters of a server's error answer kept in a message. */
const MAX_REASON_CHARS = 500;

/**
 * What a server said when it refused a request: jupyter_server and the gateways answer
 * `{"message": ..., "reason": ...}` (Enterprise Gateway puts its reason in `reason`, and in the
 * status line); '' when it said nothing more than the status's standard phrase.
 */
async function errorReason(res: Response): Promise<string> {
  let text: string;
  try {
    text = await res.text();
  } catch {
    return '';
  }
  let said = text.trim();
  try {
    const body = JSON.parse(text) as { message?: unknown; reason?: unknown };
    const parts = [body.message, body.reason].filter(
      (p): p is string => typeof p === 'string' && p !== '' && p !== STATUS_CODES[res.status],
    );
    said = parts.join(': ');
  } catch {
    // Not JSON: an HTML error page says nothing a message should carry.
    if (/^</.test(said)) {
      said = '';
    }
  }
  return said.length > MAX_REASON_CHARS ? `${said.slice(0, MAX_REASON_CHARS)}...` : said;
}

/** {@link jupyterRequest}, and the answer's JSON body. */
export async function jupyterJson<T>(
  endpoint: JupyterEndpoint,
  method: string,
  route: string,
  options: { body?: unknown; timeoutMs?: number } = {},
): Promise<T> {
  return (await (await jupyterRequest(endpoint, method, route, options)).json()) as T;
}

/** Whether a Jupyter server answers its REST API with this endpoint's token. */
export async function serverAnswers(endpoint: JupyterEndpoint, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await jupyterRequest(endpoint, 'GET', 'api/status', { timeoutMs });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** The kernelspecs the server offers and its default. */
export async function listKernelSpecs(
  endpoint: JupyterEndpoint,
): Promise<{ default: string; specs: KernelSpecInfo[] }> {
  const body = await jupyterJson<{
    default: string;
    kernelspecs: Record<
      string,
      { name: string; spec: { display_name?: string; language?: string } }
    >;
  }>(endpoint, 'GET', 'api/kernelspecs');
  return {
    default: body.default,
    specs: Object.values(body.kernelspecs).map((k) => ({
      name: k.name,
      displayName: k.spec.display_name ?? k.name,
      language: k.spec.language ?? '',
    })),
  };
}

/** The server's sessions. */
export function listSessions(endpoint: JupyterEndpoint): Promise<SessionModel[]> {
  return jupyterJson<SessionModel[]>(endpoint, 'GET', 'api/sessions');
}

/** Creates a session at `path` with a new kernel of `kernel` (resolves once it is launched). */
export function createSession(
  endpoint: JupyterEndpoint,
  session: { path: string; name: string; kernel: string },
): Promise<SessionModel> {
  return jupyterJson<SessionModel>(endpoint, 'POST', 'api/sessions', {
    body: {
      path: session.path,
      name: session.name,
      type: 'notebook',
      kernel: { name: session.kernel },
    },
  });
}

/** Moves session `id` to `path`. */
export async function renameSession(
  endpoint: JupyterEndpoint,
  id: string,
  path: string,
): Promise<void> {
  await (
    await jupyterRequest(endpoint, 'PATCH', `api/sessions/${id}`, { body: { path } })
  ).body?.cancel();
}

/** Ends session `id` and shuts its kernel down. */
export async function deleteSession(endpoint: JupyterEndpoint, id: string): Promise<void> {
  await (await jupyterRequest(endpoint, 'DELETE', `api/sessions/${id}`)).body?.cancel();
}

/** Whether kernel `id` still runs on the server (false once it is gone or dead). */
export async function kernelAlive(endpoint: JupyterEndpoint, id: string): Promise<boolean> {
  try {
    const model = await jupyterJson<{ execution_state?: string }>(
      endpoint,
      'GET',
      `api/kernels/${encodeURIComponent(id)}`,
    );
    return model.execution_state !== 'dead';
  } catch (err) {
    if (err instanceof JupyterRestError && err.httpStatus === 404) {
      return false;
    }
    throw err;
  }
}

/** Shuts kernel `id` down; false when the server had no such kernel. */
export async function deleteKernel(endpoint: JupyterEndpoint, id: string): Promise<boolean> {
  try {
    await (
      await jupyterRequest(endpoint, 'DELETE', `api/kernels/${encodeURIComponent(id)}`)
    ).body?.cancel();
    return true;
  } catch (err) {
    if (err instanceof JupyterRestError && err.httpStatus === 404) {
      return false;
    }
    throw err;
  }
}
