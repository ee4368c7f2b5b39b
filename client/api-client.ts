/**
 * A client of the nbstage HTTP API (used by `nbstage run --server` and the Jenkins bridge):
 * create, follow (websocket, from any event on), cancel and fetch runs. Transport failures are
 * UnreachableError (exit 5); API errors keep their code, message and status.
 */
import WebSocket from 'ws';
import { ErrorCode, NbstageError, UnreachableError, catalogueEntry } from '../pipelines/errors';
import type { JSONObject, Notebook } from '../pipelines/notebook/model';
import type { ServiceRun } from '../server/runs/service-run';
import type { RunRequest } from '../server/runs/run-request';
import type { Submission, SubmitRequest } from '../server/jobs/submit-request';
import type { ReproduceRequest } from '../server/runs/reproduce';
import type { NotebookDiff } from '../server/store/types';

/** What a refused stream's HTTP status means (a 429: too many failed logins or streams). */
function streamRefusal(status: number): string {
  if (status === 404) {
    return ErrorCode.notFound;
  }
  if (status === 429) {
    return ErrorCode.rateLimited;
  }
  return status === 401 || status === 403 ? ErrorCode.unauthorized : ErrorCode.unreachable;
}

/**
 * An error the service answered with (or a run ended with), as an NbstageError: its exit code is
 * the catalogue's for the code, its status the one the service answered with.
 */
export function remoteError(code: string, message: string, status = 500): NbstageError {
  return new NbstageError(code, message, catalogueEntry(code).exit, status);
}

/** Talks to one nbstage service with one token. */
export class NbstageClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string,
  ) {
    this.base = url.endsWith('/') ? url.slice(0, -1) : url;
  }

  private async request(
    method: string,
    route: string,
    body?: unknown,
    raw?: { data: AsyncIterable<Uint8Array> | Buffer; size: number },
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${route}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...(raw === undefined
            ? {}
            : { 'Content-Type': 'application/octet-stream', 'Content-Length': String(raw.size) }),
        },
        body:
          raw !== undefined
            ? (raw.data as unknown as RequestInit['body'])
            : body === undefined
              ? undefined
              : JSON.stringify(body),
        ...(raw === undefined ? {} : { duplex: 'half' }),
        // A blob takes as long as it takes; the service ends a transfer that stalls.
        signal:
          raw === undefined && !route.startsWith('/api/v1/blobs/')
            ? AbortSignal.timeout(120_000)
            : undefined,
      } as RequestInit);
    } catch (err) {
      throw new UnreachableError(
        `cannot reach the nbstage service at ${this.base}: ${(err as Error).message}`,
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let code: string = ErrorCode.internal;
      let message = `${method} ${route}: HTTP ${res.status}`;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch {
        // not our error format: keep the status line
      }
      throw remoteError(code, message, res.status);
    }
    return res;
  }

  /** Which of `digests` the service's content store lacks. */
  async missingBlobs(digests: readonly string[]): Promise<string[]> {
    return (await this.planUpload(digests)).missing;
  }

  /**
   * Which of `digests` the content store lacks; with `manifest` (a manifest's digest), also the
   * contents that manifest lists and the store lacks, when the store has it (else the manifest is
   * missing); with `inPlace`, the first of its labels a worker of that host runs in place (then
   * nothing but the manifest needs uploading).
   */
  async planUpload(
    digests: readonly string[],
    options: { inPlace?: { hostId: string; labels: string[] }; manifest?: string } = {},
  ): Promise<{ missing: string[]; inPlace?: string }> {
    const res = await this.request('POST', '/api/v1/blobs/missing', {
      digests,
      ...(options.inPlace === undefined ? {} : { inPlace: options.inPlace }),
      ...(options.manifest === undefined ? {} : { manifest: options.manifest }),
    });
    return (await res.json()) as { missing: string[]; inPlace?: string };
  }

  /** Uploads one blob (`size` bytes with sha256 `sha256`), streamed. */
  async putBlob(
    sha256: string,
    data: AsyncIterable<Uint8Array> | Buffer,
    size: number,
  ): Promise<void> {
    const res = await this.request('PUT', `/api/v1/blobs/${sha256}`, undefined, { data, size });
    await res.arrayBuffer();
  }

  /** One blob's content, as a stream. */
  async blob(sha256: string): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.request('GET', `/api/v1/blobs/${sha256}`);
    if (res.body === null) {
      throw new UnreachableError(`the service sent no content for blob ${sha256}`);
    }
    return res.body as unknown as AsyncIterable<Uint8Array>;
  }

  /** Creates a run. */
  async createRun(request: RunRequest): Promise<ServiceRun> {
    return (await (await this.request('POST', '/api/v1/runs', request)).json()) as ServiceRun;
  }

  /** Queues a run of a stored build as it ran (`nbstage reproduce`). */
  async reproduce(job: string, build: string, body: ReproduceRequest): Promise<ServiceRun> {
    const route = `/api/v1/jobs/${encodeURIComponent(job)}/builds/${encodeURIComponent(build)}/reproduce`;
    return (await (await this.request('POST', route, body)).json()) as ServiceRun;
  }

  /** What changed from build `a` to build `b` of a job. */
  async diff(job: string, a: string, b: string): Promise<NotebookDiff> {
    const query = new URLSearchParams({ a, b }).toString();
    const route = `/api/v1/jobs/${encodeURIComponent(job)}/diff?${query}`;
    return (await (await this.request('GET', route)).json()) as NotebookDiff;
  }

  /** A run's record. */
  async getRun(id: string): Promise<ServiceRun> {
    return (await (await this.request('GET', `/api/v1/runs/${id}`)).json()) as ServiceRun;
  }

  /** Asks the service to cancel a run; false when it had already finished. */
  async cancel(id: string): Promise<boolean> {
    try {
      await this.request('POST', `/api/v1/runs/${id}/cancel`);
      return true;
    } catch (err) {
      if (err instanceof NbstageError && err.status === 409) {
        return false;
      }
      throw err;
    }
  }

  /** The executed (or partial) notebook of a run. */
  async notebook(id: string): Promise<Notebook> {
    return (await (await this.request('GET', `/api/v1/runs/${id}/notebook`)).json()) as Notebook;
  }

  /** The bytes of one artifact a run stored (`name` as the run's artifact list gives it). */
  async artifact(id: string, name: string): Promise<Buffer> {
    const route = `/api/v1/runs/${id}/artifacts/${name.split('/').map(encodeURIComponent).join('/')}`;
    return Buffer.from(await (await this.request('GET', route)).arrayBuffer());
  }

  /**
   * Ends a session: its worker shuts the session's kernel down once its runs are done. True when
   * that happened before the service answered, false when it will happen later.
   */
  async closeSession(session: string): Promise<boolean> {
    const res = await this.request('POST', `/api/v1/sessions/${encodeURIComponent(session)}/close`);
    return ((await res.json()) as { closed?: boolean }).closed === true;
  }

  /**
   * Follows a run's events from `from` on; resolves when the service closes the stream (the run
   * is over) and rejects when the connection fails.
   */
  stream(id: string, onEvent: (event: JSONObject, seq: number) => void, from = 0): Promise<void> {
    const url = `${this.base.replace(/^http/, 'ws')}/api/v1/runs/${id}/stream?from=${from}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${this.token}` } });
      ws.on('message', (data: WebSocket.RawData) => {
        const logged = JSON.parse(data.toString()) as { seq: number; event: JSONObject };
        onEvent(logged.event, logged.seq);
      });
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 500;
        const retry = res.headers['retry-after'];
        reject(
          remoteError(
            streamRefusal(status),
            `stream: HTTP ${status}${retry === undefined ? '' : ` (retry after ${retry} s)`}`,
            status,
          ),
        );
        res.resume();
      });
      ws.on('error', (err) => reject(new UnreachableError(`stream: ${err.message}`)));
      ws.on('close', (code) => {
        if (code === 1000 || code === 1001) {
          resolve();
        } else {
          reject(new UnreachableError(`stream closed (${code})`));
        }
      });
    });
  }

  /** Submits a notebook as a Jenkins job; resolves once Jenkins queued the build. */
  async submitJob(request: SubmitRequest): Promise<Submission> {
    return (await (await this.request('POST', '/api/v1/jobs', request)).json()) as Submission;
  }

  /** A submission's state (queue item, build, result). */
  async submission(job: string, id: string): Promise<Submission> {
    const route = `/api/v1/jobs/${encodeURIComponent(job)}/submissions/${encodeURIComponent(id)}`;
    return (await (await this.request('GET', route)).json()) as Submission;
  }

  /** Cancels a submission (its queue item, or its build); false when it had already ended. */
  async cancelSubmission(job: string, id: string): Promise<boolean> {
    const route = `/api/v1/jobs/${encodeURIComponent(job)}/submissions/${encodeURIComponent(id)}/cancel`;
    try {
      await this.request('POST', route);
      return true;
    } catch (err) {
      if (err instanceof NbstageError && err.status === 409) {
        return false;
      }
      throw err;
    }
  }

  /** A Jenkins build's console from byte `start` on, with the next offset and whether more comes. */
  async buildConsole(
    job: string,
    build: number,
    start: number,
  ): Promise<{ text: string; size: number; more: boolean }> {
    const route = `/api/v1/jobs/${encodeURIComponent(job)}/builds/${build}/console?start=${start}`;
    const res = await this.request('GET', route);
    const text = await res.text();
    const size = Number(res.headers.get('x-text-size'));
    return {
      text,
      size: Number.isInteger(size) && size >= start ? size : start,
      more: res.headers.get('x-more-data') === 'true',
    };
  }

  /** The notebook last submitted for a job: its file name and bytes. */
  async jobSource(job: string): Promise<{ name: string; content: Buffer }> {
    const res = await this.request('GET', `/api/v1/jobs/${encodeURIComponent(job)}/source`);
    const name = decodeURIComponent(res.headers.get('x-notebook-name') ?? 'notebook.ipynb');
    return { name, content: Buffer.from(await res.arrayBuffer()) };
  }
}
