/**
 * The default {@link JenkinsApi}: the npm `jenkins` client with basic auth (user and API token)
 * and a CSRF crumb fetched before every POST (a Jenkins without CSRF protection answers the
 * crumb issuer with 404, and then POSTs go without one). Every answer is checked with ajv, and
 * every failure becomes a JenkinsError (Jenkins answered) or JenkinsUnreachableError (it did
 * not); no message ever contains the credentials.
 */
import Jenkins from 'jenkins';
import { JenkinsError, JenkinsUnreachableError, NbstageError } from '../../pipelines/errors';
import type {
  JenkinsApi,
  JenkinsBuild,
  JenkinsConsoleChunk,
  JenkinsQueueItem,
} from './jenkins-api';
import { BUILD_TREE, parseBuild, parseBuildList, parseCrumb, parseQueueItem } from './jenkins-json';
import { itemPath } from './job-name';

/** How to reach Jenkins. */
export interface NpmJenkinsApiOptions {
  /** Base URL (`https://ci.example.com/jenkins`); credentials in it are not allowed. */
  url: string;
  user?: string;
  /** The user's API token. */
  token?: string;
  /** Send the CSRF crumb with POSTs (default true; false only to show Jenkins refusing). */
  crumb?: boolean;
  /** Milliseconds one request may take (default 30000). */
  timeoutMs?: number;
}

/** What the client's errors carry. */
interface ClientError {
  res?: { statusCode?: number; headers?: Record<string, unknown>; body?: unknown };
  code?: string;
  isTimeout?: boolean;
  notFound?: boolean;
  /** Set by the crumb issuer: the crumb request is what failed. */
  during?: string;
}

function firstHeader(value: unknown): string | undefined {
  const v = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof v === 'string' ? v : undefined;
}

/** Why Jenkins may have answered with this status, for the message. */
function hint(status: number, method: string): string {
  if (status === 401) {
    return ' (check NBSTAGE_JENKINS_USER and NBSTAGE_JENKINS_TOKEN)';
  }
  if (status === 403) {
    return method === 'POST'
      ? ' (the user lacks a permission, or the CSRF crumb is missing or invalid)'
      : ' (the user lacks a permission)';
  }
  if (status === 404) {
    return ' (no such item)';
  }
  return '';
}

/** A JenkinsApi over the npm `jenkins` client. */
export class NpmJenkinsApi implements JenkinsApi {
  readonly url: string;
  private readonly client: Jenkins;

  constructor(options: NpmJenkinsApiOptions) {
    const parsed = new URL(options.url);
    if (parsed.username !== '' || parsed.password !== '') {
      throw new JenkinsError('the Jenkins URL must not contain credentials');
    }
    this.url = parsed.toString().replace(/\/+$/, '');
    const headers: Record<string, string> = {};
    if (options.user !== undefined && options.user !== '') {
      const basic = Buffer.from(`${options.user}:${options.token ?? ''}`).toString('base64');
      headers.authorization = `Basic ${basic}`;
    }
    this.client = new Jenkins({
      baseUrl: this.url,
      headers,
      timeout: options.timeoutMs ?? 30_000,
      crumbIssuer: options.crumb === false ? false : (client) => this.crumb(client),
    });
  }

  /** The crumb for the next POST; none when Jenkins has no CSRF protection (404). */
  private async crumb(client: Jenkins): Promise<Jenkins.CrumbData> {
    let answer: unknown;
    try {
      answer = await client.crumbIssuer.get();
    } catch (err) {
      const e = err as ClientError;
      if (e.res?.statusCode === 404) {
        return {};
      }
      e.during = 'GET /crumbIssuer/api/json (the CSRF crumb)';
      throw err;
    }
    const crumb = parseCrumb(answer, 'GET /crumbIssuer/api/json');
    const cookies = (answer as { cookies?: unknown }).cookies;
    return {
      headerName: crumb.crumbRequestField,
      headerValue: crumb.crumb,
      ...(Array.isArray(cookies) ? { cookies: cookies.filter((c) => typeof c === 'string') } : {}),
    };
  }

  /** Runs one client call; failures become JenkinsError or JenkinsUnreachableError. */
  private async call<T>(method: string, route: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(err, method, route);
    }
  }

  private failure(err: unknown, method: string, route: string): NbstageError {
    if (err instanceof NbstageError) {
      return err;
    }
    const e = (err ?? {}) as ClientError;
    const what = e.during ?? `${method} ${route}`;
    // The client's notFound middleware answers a 404 with a new Error flagged `notFound`.
    const status = e.res?.statusCode ?? (e.notFound === true ? 404 : undefined);
    if (typeof status === 'number') {
      const xError = firstHeader(e.res?.headers?.['x-error']);
      const type = firstHeader(e.res?.headers?.['content-type']) ?? '';
      const body = e.res?.body;
      const text =
        xError ??
        (type.startsWith('text/plain') && typeof body === 'string' && body.length < 300
          ? body.trim().split('\n')[0]
          : undefined);
      return new JenkinsError(
        `Jenkins refused ${what}: HTTP ${status}${hint(status, what.split(' ')[0])}${
          text === undefined || text === '' ? '' : `: ${text}`
        }`,
        status,
      );
    }
    // The socket's code; papi re-wraps errors of another realm (jest's) into a bare message.
    const code =
      e.code ??
      /\b(E[A-Z]{3,}|EAI_[A-Z]+)\b/.exec(err instanceof Error ? err.message : '')?.[1] ??
      'the connection failed';
    const reason = e.isTimeout === true ? 'timed out' : code;
    return new JenkinsUnreachableError(`cannot reach Jenkins at ${this.url} (${what}): ${reason}`);
  }

  /** Treats a redirect (Jenkins' usual answer to form POSTs) as success. */
  private async postAcceptingRedirect(request: Jenkins.RawRequest): Promise<void> {
    try {
      await this.client._post(request);
    } catch (err) {
      const status = (err as ClientError).res?.statusCode;
      if (status === undefined || status < 300 || status >= 400) {
        throw err;
      }
    }
  }

  async itemExists(name: string): Promise<boolean> {
    return this.call('GET', `${itemPath(name)}/api/json`, () => this.client.job.exists(name));
  }

  async createItem(name: string, configXml: string): Promise<void> {
    const parent = itemPath(name.split('/').slice(0, -1).join('/'));
    await this.call('POST', `${parent}/createItem`, () => this.client.job.create(name, configXml));
  }

  async getConfig(name: string): Promise<string> {
    return this.call('GET', `${itemPath(name)}/config.xml`, () => this.client.job.config(name));
  }

  async updateConfig(name: string, configXml: string): Promise<void> {
    await this.call('POST', `${itemPath(name)}/config.xml`, () =>
      this.client.job.config(name, configXml),
    );
  }

  async triggerBuild(job: string, parameters: Record<string, string> | null): Promise<number> {
    const route = `${itemPath(job)}/${parameters === null ? 'build' : 'buildWithParameters'}`;
    const id = await this.call('POST', route, () =>
      this.client.job.build(
        parameters === null ? { name: job } : { name: job, parameters: { ...parameters } },
      ),
    );
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new JenkinsError(
        `Jenkins answered POST ${route} without a queue item in its Location header`,
      );
    }
    return id;
  }

  async queueItem(id: number): Promise<JenkinsQueueItem> {
    const route = `/queue/item/${id}/api/json`;
    return parseQueueItem(
      await this.call('GET', route, () => this.client.queue.item(id)),
      `GET ${route}`,
    );
  }

  async cancelQueueItem(id: number): Promise<void> {
    await this.call('POST', '/queue/cancelItem', () =>
      this.postAcceptingRedirect({ path: '/queue/cancelItem', query: { id } }),
    );
  }

  async build(job: string, number: number): Promise<JenkinsBuild> {
    const route = `${itemPath(job)}/${number}/api/json`;
    return parseBuild(
      await this.call('GET', route, () => this.client.build.get(job, number)),
      `GET ${route}`,
    );
  }

  async builds(job: string, limit = 100): Promise<JenkinsBuild[] | null> {
    const route = `${itemPath(job)}/api/json`;
    let answer: unknown;
    try {
      answer = await this.client.job.get(job, { tree: `builds[${BUILD_TREE}]{0,${limit}}` });
    } catch (err) {
      const e = err as ClientError;
      if (e.res?.statusCode === 404 || e.notFound === true) {
        return null;
      }
      throw this.failure(err, 'GET', route);
    }
    return parseBuildList(answer, `GET ${route}`);
  }

  async console(job: string, number: number, start: number): Promise<JenkinsConsoleChunk> {
    const route = `${itemPath(job)}/${number}/logText/progressiveText`;
    const res = await this.call('GET', route, () =>
      this.client._get({ path: route, query: { start } }),
    );
    const size = Number(firstHeader(res.headers['x-text-size']));
    if (!Number.isInteger(size) || size < 0) {
      throw new JenkinsError(`Jenkins answered GET ${route} without a valid X-Text-Size header`);
    }
    const body = res.body;
    return {
      text: typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '',
      size,
      more: firstHeader(res.headers['x-more-data']) === 'true',
    };
  }

  async stopBuild(job: string, number: number): Promise<void> {
    const route = `${itemPath(job)}/${number}/stop`;
    await this.call('POST', route, () => this.postAcceptingRedirect({ path: route }));
  }

  async setBuildDescription(job: string, number: number, description: string): Promise<void> {
    const route = `${itemPath(job)}/${number}/submitDescription`;
    await this.call('POST', route, () =>
      this.postAcceptingRedirect({ path: route, type: 'form', body: { description } }),
    );
  }
}
