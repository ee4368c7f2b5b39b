/**
 * The parts of a Jupyter server's REST API nbstage calls itself (status, kernelspecs, sessions),
 * as stateless functions over an endpoint, like JupyterLab's `restapi.ts`: one timeout, one
 * error type naming the server and the request. Kernels themselves go through
 * @jupyterlab/services.
 */
import { UnreachableError } from '../pipelines/errors';
import type { KernelSpecInfo } from '../pipelines/executor/kernel';
import { authHeaders, type JupyterEndpoint } from './endpoint';

/** How long one REST request may take (a kernel's start is the slowest: tens of seconds). */
export const JUPYTER_REST_TIMEOUT_MS = 60_000;

/** A Jupyter server could not be reached, or answered a request with an error status. */
export class JupyterRestError extends UnreachableError {
  /** The HTTP status the server answered with; null when it did not answer. */
  readonly httpStatus: number | null;
  constructor(message: string, httpStatus: number | null) {
    super(message);
    this.httpStatus = httpStatus;
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
    await res.body?.cancel();
    throw new JupyterRestError(`Jupyter server answered ${res.status} to ${where}`, res.status);
  }
  return res;
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
