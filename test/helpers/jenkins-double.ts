/**
 * A Jenkins double: a real HTTP server that speaks the part of Jenkins' documented REST API that
 * nbstage uses, so that submit can be tested end to end without a Jenkins war. Basic auth with
 * user and API token on every request; a CSRF crumb from `/crumbIssuer/api/json` (bound to the
 * session cookie it sets) required on every POST, else 403; `createItem` in the root and in
 * folders; `config.xml` GET/POST; `build`/`buildWithParameters` answering 201 with the queue
 * item's `Location`; queue items that become builds only after a delay (or are cancelled);
 * builds with `api/json`, `logText/progressiveText` (`X-Text-Size`, `X-More-Data`), `stop` and
 * `submitDescription`; a job's `api/json` with its builds. Tests script what each queue item and
 * build does, and read every request it received.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A build result. */
export type DoubleResult = 'SUCCESS' | 'UNSTABLE' | 'FAILURE' | 'ABORTED' | 'NOT_BUILT';

/** One request the double received. */
export interface RecordedRequest {
  method: string;
  /** The path as sent (still percent-encoded), without the query. */
  path: string;
  query: URLSearchParams;
  /** Whether it carried a valid crumb (POSTs only). */
  crumbOk: boolean;
  status: number;
}

/** A build, as the test sees it. */
export interface DoubleBuild {
  job: string;
  number: number;
  parameters: Record<string, string>;
  console: string;
  building: boolean;
  result: DoubleResult | null;
  description: string | null;
  timestamp: number;
  duration: number;
  stopRequested: boolean;
}

/** What a build script can do to its build. */
export interface BuildControl {
  readonly build: DoubleBuild;
  /** Appends text to the console. */
  log(text: string): void;
  /** Ends the build (ignored when it already ended). */
  finish(result: DoubleResult): void;
  /** Resolves when someone POSTs `stop`. */
  readonly stopped: Promise<void>;
}

/** What a queue script can do to its item. */
export interface QueueControl {
  readonly id: number;
  readonly job: string;
  /** Leaves the queue as a build (which then runs the job's build script). */
  start(): void;
  /** Leaves the queue cancelled, as when someone cancels it in the UI. */
  cancel(): void;
}

/** How a job's queue items and builds behave. */
export interface JobScript {
  /**
   * Called once the item has waited `queueDelayMs`; default: start it. Cancel it, or keep it
   * waiting and start it later.
   */
  queue?: (item: QueueControl) => void;
  /**
   * The build: log, then finish. Default: one console line, then SUCCESS. When `stop` is POSTed
   * and the script does not finish the build itself, it ends ABORTED.
   */
  run?: (build: BuildControl) => void | Promise<void>;
}

interface Item {
  kind: 'job' | 'folder';
  config: string;
  builds: DoubleBuild[];
  nextBuild: number;
}

interface QueueItem {
  id: number;
  job: string;
  parameters: Record<string, string>;
  state: 'waiting' | 'left' | 'cancelled';
  build: number | null;
  timer: NodeJS.Timeout | null;
}

function xmlText(text: string): string {
  return text
    .replace(/&#13;/g, '\r')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The parameter definitions (name and default) of a job's config.xml. */
export function configParameters(config: string): Record<string, string> {
  const out: Record<string, string> = {};
  const defs = /<parameterDefinitions>([\s\S]*?)<\/parameterDefinitions>/.exec(config)?.[1] ?? '';
  for (const m of defs.matchAll(
    /<hudson\.model\.\w+ParameterDefinition>([\s\S]*?)<\/hudson\.model\.\w+ParameterDefinition>/g,
  )) {
    const name = /<name>([\s\S]*?)<\/name>/.exec(m[1])?.[1];
    const value = /<defaultValue>([\s\S]*?)<\/defaultValue>/.exec(m[1])?.[1] ?? '';
    if (name !== undefined) {
      out[xmlText(name)] = xmlText(value);
    }
  }
  return out;
}

/** The script of a job's config.xml (the Jenkinsfile). */
export function configScript(config: string): string | null {
  const m = /<script>([\s\S]*?)<\/script>/.exec(config);
  return m === null ? null : xmlText(m[1]);
}

/** The double. Start it with {@link JenkinsDouble.start}; close it when done. */
export class JenkinsDouble {
  /** Base URL (no trailing slash). */
  url = '';
  readonly requests: RecordedRequest[] = [];
  /** Items by full name (`team/ml/train`). */
  readonly items = new Map<string, Item>();
  /** When true, every crumb is refused (as when the session it was bound to expired). */
  refuseCrumbs = false;
  /** How long a queue item waits before its queue script runs (ms). */
  queueDelayMs = 150;

  private readonly server: http.Server;
  private readonly events = new EventEmitter();
  private readonly scripts = new Map<string, JobScript>();
  private readonly queue = new Map<number, QueueItem>();
  private readonly crumbs = new Map<string, string>();
  private readonly stops = new Map<DoubleBuild, () => void>();
  private nextQueueId = 1;

  private constructor(
    readonly user: string,
    readonly token: string,
  ) {
    this.events.setMaxListeners(100);
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, Buffer.concat(chunks).toString('utf8'), res);
      });
    });
  }

  /** Starts a double on a free port of 127.0.0.1. */
  static async start(user = 'nbstage-bot', token = `tok-${randomBytes(12).toString('hex')}`) {
    const double = new JenkinsDouble(user, token);
    await new Promise<void>((resolve) => double.server.listen(0, '127.0.0.1', resolve));
    double.url = `http://127.0.0.1:${(double.server.address() as AddressInfo).port}`;
    return double;
  }

  /** Stops it; pending queue items and builds are dropped. */
  async close(): Promise<void> {
    for (const item of this.queue.values()) {
      if (item.timer !== null) {
        clearTimeout(item.timer);
      }
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }

  /** Sets what the job's queue items and builds do. */
  script(job: string, script: JobScript): void {
    this.scripts.set(job, script);
  }

  /** Creates an item directly (as if someone made it in the UI). */
  addItem(name: string, kind: 'job' | 'folder', config = ''): void {
    this.items.set(name, { kind, config, builds: [], nextBuild: 1 });
  }

  /** A build of a job, or undefined. */
  build(job: string, number: number): DoubleBuild | undefined {
    return this.items.get(job)?.builds.find((b) => b.number === number);
  }

  /** Adds a finished build to a job (history made before the test). */
  addBuild(job: string, result: DoubleResult, console = ''): DoubleBuild {
    const item = this.items.get(job);
    if (item === undefined) {
      throw new Error(`no job ${job}`);
    }
    const build: DoubleBuild = {
      job,
      number: item.nextBuild++,
      parameters: {},
      console,
      building: false,
      result,
      description: null,
      timestamp: Date.now(),
      duration: 1234,
      stopRequested: false,
    };
    item.builds.push(build);
    return build;
  }

  /** Resolves once `predicate` holds; it is checked after every change the double sees. */
  until<T>(predicate: () => T | undefined | null | false, timeoutMs = 20000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const value = predicate();
        if (value !== undefined && value !== null && value !== false) {
          clearTimeout(timer);
          this.events.off('change', check);
          resolve(value);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.events.off('change', check);
        reject(new Error('the Jenkins double never reached the awaited state'));
      }, timeoutMs);
      if (!check()) {
        this.events.on('change', check);
      }
    });
  }

  private changed(): void {
    this.events.emit('change');
  }

  private itemUrl(name: string): string {
    return `${this.url}${name
      .split('/')
      .map((p) => `/job/${encodeURIComponent(p)}`)
      .join('')}/`;
  }

  private buildJson(b: DoubleBuild): Record<string, unknown> {
    return {
      _class: 'org.jenkinsci.plugins.workflow.job.WorkflowRun',
      number: b.number,
      id: String(b.number),
      displayName: `#${b.number}`,
      fullDisplayName: `${b.job} #${b.number}`,
      url: `${this.itemUrl(b.job)}${b.number}/`,
      building: b.building,
      result: b.result,
      duration: b.duration,
      estimatedDuration: -1,
      timestamp: b.timestamp,
      description: b.description,
      actions: [
        {
          _class: 'hudson.model.ParametersAction',
          parameters: Object.entries(b.parameters).map(([name, value]) => ({ name, value })),
        },
      ],
    };
  }

  private queueJson(q: QueueItem): Record<string, unknown> {
    const task = { name: q.job.split('/').pop(), url: this.itemUrl(q.job) };
    if (q.state === 'waiting') {
      return {
        _class: 'hudson.model.Queue$WaitingItem',
        id: q.id,
        blocked: false,
        buildable: false,
        inQueueSince: Date.now(),
        stuck: false,
        task,
        why: 'In the quiet period.',
      };
    }
    return {
      _class: 'hudson.model.Queue$LeftItem',
      id: q.id,
      blocked: false,
      buildable: false,
      cancelled: q.state === 'cancelled',
      task,
      why: null,
      executable:
        q.build === null
          ? null
          : {
              _class: 'org.jenkinsci.plugins.workflow.job.WorkflowRun',
              number: q.build,
              url: `${this.itemUrl(q.job)}${q.build}/`,
            },
    };
  }

  private enqueue(job: string, parameters: Record<string, string>): QueueItem {
    const q: QueueItem = {
      id: this.nextQueueId++,
      job,
      parameters,
      state: 'waiting',
      build: null,
      timer: null,
    };
    this.queue.set(q.id, q);
    const control: QueueControl = {
      id: q.id,
      job,
      start: () => this.startBuild(q),
      cancel: () => {
        if (q.state === 'waiting') {
          q.state = 'cancelled';
          this.changed();
        }
      },
    };
    q.timer = setTimeout(() => {
      q.timer = null;
      const script = this.scripts.get(job)?.queue;
      if (script === undefined) {
        control.start();
      } else {
        script(control);
      }
    }, this.queueDelayMs);
    return q;
  }

  private startBuild(q: QueueItem): void {
    const item = this.items.get(q.job);
    if (q.state !== 'waiting' || item === undefined) {
      return;
    }
    const build: DoubleBuild = {
      job: q.job,
      number: item.nextBuild++,
      parameters: q.parameters,
      console: '',
      building: true,
      result: null,
      description: null,
      timestamp: Date.now(),
      duration: 0,
      stopRequested: false,
    };
    item.builds.push(build);
    q.state = 'left';
    q.build = build.number;
    let onStop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      onStop = resolve;
    });
    const control: BuildControl = {
      build,
      log: (text) => {
        if (build.building) {
          build.console += text;
          this.changed();
        }
      },
      finish: (result) => {
        if (build.building) {
          build.building = false;
          build.result = result;
          build.duration = Math.max(1, Date.now() - build.timestamp);
          build.console += `Finished: ${result}\n`;
          this.changed();
        }
      },
      stopped,
    };
    this.stops.set(build, () => {
      build.stopRequested = true;
      onStop();
      // A script that does not end the build itself on stop: Jenkins aborts it.
      setImmediate(() => {
        control.log('Aborted by user\n');
        control.finish('ABORTED');
      });
    });
    this.changed();
    const run =
      this.scripts.get(q.job)?.run ??
      ((b: BuildControl) => {
        b.log(`Started by user ${this.user}\n`);
        b.finish('SUCCESS');
      });
    void Promise.resolve(run(control)).catch((err: unknown) => {
      control.log(`script failed: ${String(err)}\n`);
      control.finish('FAILURE');
    });
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      crumbOk: false,
      status: 0,
    };
    this.requests.push(record);
    const send = (
      status: number,
      payload: string | Record<string, unknown> = '',
      headers: Record<string, string> = {},
    ): void => {
      record.status = status;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(status, {
        'Content-Type':
          typeof payload === 'string' ? 'text/plain;charset=utf-8' : 'application/json',
        ...headers,
      });
      res.end(method === 'HEAD' ? undefined : text);
      this.changed();
    };

    const expected = `Basic ${Buffer.from(`${this.user}:${this.token}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      send(401, 'Invalid password/token for user', { 'WWW-Authenticate': 'Basic realm="Jenkins"' });
      return;
    }
    const session = /JSESSIONID\.[a-z0-9]+=([A-Za-z0-9]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (method === 'POST') {
      const crumb = session === undefined ? undefined : this.crumbs.get(session);
      record.crumbOk =
        !this.refuseCrumbs && crumb !== undefined && req.headers['jenkins-crumb'] === crumb;
      if (!record.crumbOk) {
        send(403, 'No valid crumb was included in the request');
        return;
      }
    }
    if (url.pathname === '/crumbIssuer/api/json' && method === 'GET') {
      const id = session ?? randomBytes(8).toString('hex');
      const crumb = randomBytes(16).toString('hex');
      this.crumbs.set(id, crumb);
      send(
        200,
        {
          _class: 'hudson.security.csrf.DefaultCrumbIssuer',
          crumb,
          crumbRequestField: 'Jenkins-Crumb',
        },
        { 'Set-Cookie': `JSESSIONID.d0ub1e=${id}; Path=/; HttpOnly` },
      );
      return;
    }
    const queueMatch = /^\/queue\/item\/(\d+)\/api\/json$/.exec(url.pathname);
    if (queueMatch !== null && method === 'GET') {
      const q = this.queue.get(Number(queueMatch[1]));
      if (q === undefined) {
        send(404, 'Not Found');
      } else {
        send(200, this.queueJson(q));
      }
      return;
    }
    if (url.pathname === '/queue/cancelItem' && method === 'POST') {
      const q = this.queue.get(Number(url.searchParams.get('id')));
      if (q === undefined || q.state !== 'waiting') {
        send(404, 'Not Found');
        return;
      }
      if (q.timer !== null) {
        clearTimeout(q.timer);
      }
      q.state = 'cancelled';
      send(204);
      return;
    }

    // /job/a/job/b/<rest>: the item's full name, then what is asked of it.
    const segments = url.pathname.split('/').slice(1);
    const names: string[] = [];
    while (segments[0] === 'job' && segments.length >= 2) {
      names.push(decodeURIComponent(segments[1]));
      segments.splice(0, 2);
    }
    const name = names.join('/');
    const rest = segments.join('/');
    const item = name === '' ? undefined : this.items.get(name);
    if (name !== '' && item === undefined) {
      send(404, 'Not Found');
      return;
    }

    if (rest === 'createItem' && method === 'POST') {
      if (item !== undefined && item.kind !== 'folder') {
        send(404, 'Not Found');
        return;
      }
      const child = url.searchParams.get('name') ?? '';
      const full = name === '' ? child : `${name}/${child}`;
      if (child === '' || /[/?*\\%!@#$^&|<>[\]:;]/.test(child)) {
        send(400, '', { 'X-Error': `Bad item name: ${child}` });
        return;
      }
      if (this.items.has(full)) {
        send(400, '', { 'X-Error': `A job already exists with the name ?${child}?` });
        return;
      }
      if (!/xml/.test(req.headers['content-type'] ?? '') || !body.startsWith('<?xml')) {
        send(400, '', { 'X-Error': 'No config.xml in the request' });
        return;
      }
      const kind = body.includes('<com.cloudbees.hudson.plugins.folder.Folder') ? 'folder' : 'job';
      this.addItem(full, kind, body);
      send(200);
      return;
    }
    if (item === undefined) {
      send(404, 'Not Found');
      return;
    }
    if (rest === 'config.xml') {
      if (method === 'GET') {
        record.status = 200;
        res.writeHead(200, { 'Content-Type': 'application/xml' });
        res.end(item.config);
        this.changed();
      } else if (method === 'POST') {
        item.config = body;
        send(200);
      } else {
        send(405);
      }
      return;
    }
    if (rest === 'api/json' && (method === 'GET' || method === 'HEAD')) {
      send(200, {
        _class:
          item.kind === 'folder'
            ? 'com.cloudbees.hudson.plugins.folder.Folder'
            : 'org.jenkinsci.plugins.workflow.job.WorkflowJob',
        name: names[names.length - 1],
        fullName: name,
        url: this.itemUrl(name),
        builds: [...item.builds].reverse().map((b) => this.buildJson(b)),
      });
      return;
    }
    if ((rest === 'build' || rest === 'buildWithParameters') && method === 'POST') {
      const defaults = configParameters(item.config);
      if (rest === 'buildWithParameters' && Object.keys(defaults).length === 0) {
        send(500, 'java.lang.IllegalStateException: This build is not parameterized!');
        return;
      }
      const given = new URLSearchParams(body);
      const parameters = { ...defaults };
      for (const source of [url.searchParams, given]) {
        for (const [key, value] of source) {
          if (key in defaults) {
            parameters[key] = value;
          }
        }
      }
      const q = this.enqueue(name, parameters);
      send(201, '', { Location: `${this.url}/queue/item/${q.id}/` });
      return;
    }
    const buildMatch = /^(\d+)\/(api\/json|logText\/progressiveText|stop|submitDescription)$/.exec(
      rest,
    );
    const build = buildMatch === null ? undefined : this.build(name, Number(buildMatch[1]));
    if (buildMatch === null || build === undefined) {
      send(404, 'Not Found');
      return;
    }
    const action = buildMatch[2];
    if (action === 'api/json' && method === 'GET') {
      send(200, this.buildJson(build));
    } else if (action === 'logText/progressiveText') {
      const start = Number(url.searchParams.get('start') ?? new URLSearchParams(body).get('start'));
      const bytes = Buffer.from(build.console, 'utf8');
      const from = Number.isInteger(start) && start >= 0 ? Math.min(start, bytes.length) : 0;
      send(200, bytes.subarray(from).toString('utf8'), {
        'X-Text-Size': String(bytes.length),
        ...(build.building ? { 'X-More-Data': 'true' } : {}),
      });
    } else if (action === 'stop' && method === 'POST') {
      this.stops.get(build)?.();
      send(302, '', { Location: `${this.itemUrl(name)}${build.number}/` });
    } else if (action === 'submitDescription' && method === 'POST') {
      build.description = new URLSearchParams(body).get('description');
      send(302, '', { Location: `${this.itemUrl(name)}${build.number}/` });
    } else {
      send(405);
    }
  }
}

/** The environment that points a service at `double` (NBSTAGE_JENKINS_URL, _USER, _TOKEN). */
export function jenkinsEnv(double: JenkinsDouble): NodeJS.ProcessEnv {
  return {
    NBSTAGE_JENKINS_URL: double.url,
    NBSTAGE_JENKINS_USER: double.user,
    NBSTAGE_JENKINS_TOKEN: double.token,
  };
}
