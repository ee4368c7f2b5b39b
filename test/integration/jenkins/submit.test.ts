/**
 * `nbstage submit` end to end: the real CLI against a real `nbstage serve` (in-process, no
 * workers: Jenkins runs the builds) whose Jenkins is the REST double. A build whose console
 * streams while it runs, a failing build, a cancelled queue item, a job in folders with spaces,
 * the update of an existing job, SIGTERM stopping a running build, the crumb really required, an
 * unreachable or missing Jenkins; `nbstage fetch` and the HTTP routes (validation, roles,
 * multipart, cancel); and the Jenkins token never in a log, a response or the home.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { NpmJenkinsApi } from '../../../jenkins-plugin-bridge/rest/npm-jenkins-api';
import type { Submission } from '../../../server/jobs/submit-request';
import {
  JenkinsDouble,
  configParameters,
  configScript,
  jenkinsEnv,
  type JobScript,
} from '../../helpers/jenkins-double';
import {
  makeNotebook,
  runCli,
  tempDir,
  writeNotebook,
  type CliResult,
} from '../../helpers/notebooks';
import { bearer, filesUnder, useService } from '../service/service-fixture';

/** A notebook with a parameters cell (epochs, lr, name) and two stages. */
function trainNotebook(): ReturnType<typeof makeNotebook> {
  return makeNotebook([
    { source: 'epochs = 3  # how long\nlr = 0.1\nname = "base"', tags: ['parameters'] },
    { source: 'print("prepare")', tags: ['stage:prepare'] },
    {
      source: 'print("train", epochs)',
      tags: ['stage:train'],
      metadata: { nbstage: { agent: 'gpu' } },
    },
  ]);
}

/** Everything the CLI printed and the API answered, to look for the Jenkins token in. */
const seen: string[] = [];

describe('nbstage submit against the Jenkins double', () => {
  const env: NodeJS.ProcessEnv = {};
  let double: JenkinsDouble;
  beforeAll(async () => {
    double = await JenkinsDouble.start();
    Object.assign(env, jenkinsEnv(double), { NBSTAGE_PUBLIC_URL: 'http://nbstage.test:8080' });
  });
  afterAll(async () => {
    await double.close();
  });
  const svc = useService({ workers: 0, env, jenkinsPollMs: 50 });

  const submit = async (
    file: string,
    job: string,
    args: string[] = [],
    options: { onStdout?: NonNullable<Parameters<typeof runCli>[1]>['onStdout'] } = {},
  ): Promise<CliResult> => {
    const res = await runCli(['submit', file, '--job', job, '--server', svc().url, ...args], {
      env: { NBSTAGE_TOKEN: svc().run, NBSTAGE_URL: '' },
      onStdout: options.onStdout,
    });
    seen.push(res.stdout, res.stderr);
    return res;
  };

  const api = (): ReturnType<typeof request> => request(svc().url);

  const submission = async (job: string, id: string): Promise<Submission> => {
    const res = await api()
      .get(`/api/v1/jobs/${encodeURIComponent(job)}/submissions/${id}`)
      .set('Authorization', bearer(svc().read));
    seen.push(res.text);
    return res.body as Submission;
  };

  /** Polls the submission until `done` holds of it. */
  const untilSubmission = async (
    job: string,
    id: string,
    done: (s: Submission) => boolean,
  ): Promise<Submission> => {
    for (;;) {
      const s = await submission(job, id);
      if (done(s)) {
        return s;
      }
      if (s.finishedAt !== null) {
        throw new Error(`submission ended ${s.state} ${s.result ?? ''}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const scripted = (script: JobScript): string => {
    const job = `test-${randomUUID()}`;
    double.script(job, script);
    return job;
  };

  it('creates the job, triggers it and streams its console while it runs (exit 0)', async () => {
    let sawFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      sawFirst = resolve;
    });
    const job = scripted({
      run: async (b) => {
        b.log('epoch 1 loss 0.50\n');
        // The second line only exists once the CLI has printed the first: streaming, not a dump.
        await first;
        b.log('epoch 2 loss 0.20\n');
        b.finish('SUCCESS');
      },
    });
    const file = writeNotebook(trainNotebook(), 'train.ipynb');
    let out = '';
    const res = await submit(file, job, ['-p', 'epochs=5', '-r', 'name=7'], {
      onStdout: (chunk) => {
        out += chunk;
        if (out.includes('epoch 1 loss')) {
          sawFirst();
        }
      },
    });
    expect(res.stderr).toContain(`created Jenkins job "${job}"; queue item`);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('epoch 1 loss 0.50\nepoch 2 loss 0.20\nFinished: SUCCESS\n');
    expect(res.stderr).toMatch(/build #1 .*finished: SUCCESS/);

    // The job: a sandboxed Pipeline whose script fetches the stored notebook on each stage.
    const config = double.items.get(job)?.config ?? '';
    expect(config).toContain('<flow-definition plugin="workflow-job">');
    expect(config).toContain('class="org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition"');
    expect(config).toContain('<sandbox>true</sandbox>');
    const script = configScript(config) ?? '';
    expect(script).toContain("@Library('nbstage') _");
    expect(script).toContain(`job: '${job}'`);
    expect(script).toContain("notebook: 'train.ipynb'");
    expect(script).toContain("NBSTAGE_URL = 'http://nbstage.test:8080'");
    expect(script).toContain("agent { label 'gpu' }");
    expect(configParameters(config)).toEqual({ epochs: '3', lr: '0.1', name: 'base' });
    // The build got the parameters; the service linked it to its version page.
    const build = double.build(job, 1);
    expect(build?.parameters).toEqual({ epochs: '5', lr: '0.1', name: '7' });
    expect(build?.description).toBe(
      `<a href="http://nbstage.test:8080/jobs/${encodeURIComponent(job)}/builds/1">nbstage version of build #1</a>`,
    );
    // The queue item was asked for its build number before it had one.
    const queueReads = double.requests.filter((r) =>
      /^\/queue\/item\/\d+\/api\/json$/.test(r.path),
    );
    expect(queueReads.length).toBeGreaterThanOrEqual(2);

    // Agents fetch the stored notebook: nbstage fetch writes exactly what was submitted.
    const dir = tempDir();
    const fetched = await runCli(['fetch', '--server', svc().url, job, '-o', 'nb.ipynb'], {
      cwd: dir,
      env: { NBSTAGE_TOKEN: svc().read, NBSTAGE_URL: '' },
    });
    seen.push(fetched.stdout, fetched.stderr);
    expect(fetched.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'nb.ipynb'), 'utf8'))).toEqual(
      JSON.parse(fs.readFileSync(file, 'utf8')),
    );
    const byName = await runCli(['fetch', job], {
      cwd: dir,
      env: { NBSTAGE_TOKEN: svc().read, NBSTAGE_URL: svc().url },
    });
    expect(byName.code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'train.ipynb'))).toBe(true);
  });

  it('a failing build exits 1 with its result', async () => {
    const job = scripted({
      run: (b) => {
        b.log('Traceback (most recent call last):\nValueError: bad data\n');
        b.finish('FAILURE');
      },
    });
    const res = await submit(writeNotebook(makeNotebook(['1']), 'f.ipynb'), job);
    // stderr first: a CLI that died (exit 1 too) shows why.
    expect(res.stderr).toMatch(/build #1 of ".*" finished: FAILURE/);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      'Traceback (most recent call last):\nValueError: bad data\nFinished: FAILURE\n',
    );
    // A notebook without parameters is triggered with `build`, not `buildWithParameters`.
    expect(
      double.requests.some((r) => r.method === 'POST' && r.path.endsWith(`/job/${job}/build`)),
    ).toBe(true);
  });

  it('a queue item cancelled in Jenkins exits 130 and says so', async () => {
    const job = scripted({ queue: (item) => item.cancel() });
    const res = await submit(writeNotebook(makeNotebook(['1']), 'c.ipynb'), job);
    expect(res.code).toBe(130);
    expect(res.stderr).toMatch(/queue item \d+ of .* was cancelled in Jenkins before it started/);
    expect(res.stdout).toBe('');
    expect(double.items.get(job)?.builds).toEqual([]);
  });

  it('creates a job inside folders with spaces, creating the folders', async () => {
    const root = `test ${randomUUID()}`;
    const job = `${root}/ml team/train model`;
    double.script(job, {});
    const res = await submit(writeNotebook(trainNotebook(), 'train.ipynb'), job);
    expect(res.stderr).toContain(`created Jenkins job "${job}"`);
    expect(res.code).toBe(0);
    expect(double.items.get(root)?.kind).toBe('folder');
    expect(double.items.get(`${root}/ml team`)?.kind).toBe('folder');
    expect(double.items.get(job)?.kind).toBe('job');
    const enc = encodeURIComponent;
    const create = double.requests.find(
      (r) => r.path === `/job/${enc(root)}/job/ml%20team/createItem` && r.method === 'POST',
    );
    expect(create?.query.get('name')).toBe('train model');
    expect(double.build(job, 1)?.description).toContain(`/jobs/${enc(job)}/builds/1`);
  });

  it('updates an existing job: config.xml POSTed, the next build number', async () => {
    const job = scripted({});
    const first = await submit(writeNotebook(makeNotebook(['1']), 'u.ipynb'), job);
    expect(first.code).toBe(0);
    const changed = makeNotebook([{ source: 'x = 1', tags: ['parameters'] }, 'print(x)']);
    const second = await submit(writeNotebook(changed, 'u.ipynb'), job, ['-p', 'x=2']);
    expect(second.stderr).toContain(`updated Jenkins job "${job}"`);
    expect(second.code).toBe(0);
    const posted = double.requests.filter(
      (r) => r.method === 'POST' && r.path === `/job/${job}/config.xml`,
    );
    expect(posted).toHaveLength(1);
    expect(configParameters(double.items.get(job)?.config ?? '')).toEqual({ x: '1' });
    expect(double.build(job, 2)?.parameters).toEqual({ x: '2' });
  });

  it('SIGTERM while the build runs stops it and exits 130', async () => {
    const job = scripted({ run: (b) => b.log('working\n') });
    const res = await submit(writeNotebook(makeNotebook(['1']), 's.ipynb'), job, [], {
      onStdout: (chunk, child) => {
        if (chunk.includes('working')) {
          child.kill('SIGTERM');
        }
      },
    });
    expect(res.code).toBe(130);
    expect(double.build(job, 1)?.stopRequested).toBe(true);
    expect(res.stdout).toContain('Aborted by user\nFinished: ABORTED\n');
    expect(res.stderr).toMatch(/stopping build #1/);
  });

  it('Jenkins refusing the crumb: exit 5 with a clear message, nothing created', async () => {
    const job = `test-${randomUUID()}`;
    double.refuseCrumbs = true;
    try {
      const res = await submit(writeNotebook(makeNotebook(['1']), 'r.ipynb'), job);
      expect(res.code).toBe(5);
      expect(res.stderr).toMatch(
        /Jenkins refused POST \/createItem: HTTP 403 \(.*CSRF crumb.*\): No valid crumb/,
      );
    } finally {
      double.refuseCrumbs = false;
    }
    expect(double.items.has(job)).toBe(false);
  });

  describe('HTTP', () => {
    const post = (body: unknown, token = svc().run) =>
      api()
        .post('/api/v1/jobs')
        .set('Authorization', bearer(token))
        .send(body as object);

    it('answers 202 with the submission and its Location; cancel stops a waiting item', async () => {
      const job = scripted({ queue: () => undefined });
      const res = await post({ job, notebook: makeNotebook(['1']) });
      seen.push(res.text);
      expect(res.status).toBe(202);
      const s = res.body as Submission;
      expect(s).toMatchObject({ job, state: 'queued', created: true, build: null, result: null });
      expect(res.headers.location).toBe(`/api/v1/jobs/${job}/submissions/${s.id}`);
      const cancel = await api()
        .post(`/api/v1/jobs/${job}/submissions/${s.id}/cancel`)
        .set('Authorization', bearer(svc().run));
      expect(cancel.status).toBe(202);
      const ended = await untilSubmission(job, s.id, (x) => x.state === 'cancelled');
      expect(ended.error?.code).toBe('NBSTAGE_CANCELLED');
      const again = await api()
        .post(`/api/v1/jobs/${job}/submissions/${s.id}/cancel`)
        .set('Authorization', bearer(svc().run));
      expect(again.status).toBe(409);
    });

    it('takes multipart like POST /runs, and serves the source and the console', async () => {
      const job = scripted({});
      const res = await api()
        .post('/api/v1/jobs')
        .set('Authorization', bearer(svc().run))
        .attach('notebook', Buffer.from(JSON.stringify(trainNotebook())), 'multi.ipynb')
        .field('options', JSON.stringify({ job, parameters: { epochs: 9 } }));
      expect(res.status).toBe(202);
      const s = await untilSubmission(job, (res.body as Submission).id, (x) => x.result !== null);
      expect(s).toMatchObject({ state: 'finished', result: 'SUCCESS', build: 1 });
      expect(s.parameters).toEqual({ epochs: '9' });
      const source = await api()
        .get(`/api/v1/jobs/${job}/source`)
        .set('Authorization', bearer(svc().read));
      expect(source.status).toBe(200);
      expect(source.headers['x-notebook-name']).toBe('multi.ipynb');
      const consoleRes = await api()
        .get(`/api/v1/jobs/${job}/builds/1/console?start=0`)
        .set('Authorization', bearer(svc().read));
      expect(consoleRes.status).toBe(200);
      expect(consoleRes.headers['x-more-data']).toBe('false');
      expect(consoleRes.text).toContain('Finished: SUCCESS');
      expect(Number(consoleRes.headers['x-text-size'])).toBe(Buffer.byteLength(consoleRes.text));
    });

    it('takes a Zeppelin note: one stage for the note, stored under its own name', async () => {
      const job = scripted({});
      const note = JSON.parse(
        fs.readFileSync(
          path.resolve(__dirname, '../../fixtures/zeppelin/mixed-interpreters.zpln'),
          'utf8',
        ),
      ) as Record<string, unknown>;
      const res = await post({ job, notebook: note, notebookName: 'mixed.zpln' });
      expect(res.status).toBe(202);
      expect(configScript(double.items.get(job)?.config ?? '')).toContain("notebook: 'mixed.zpln'");
      const source = await api()
        .get(`/api/v1/jobs/${job}/source`)
        .set('Authorization', bearer(svc().read));
      expect(source.headers['x-notebook-name']).toBe('mixed.zpln');
      expect(JSON.parse((source.body as Buffer).toString('utf8'))).toEqual(note);
    });

    it('validates before anything reaches Jenkins, naming the field', async () => {
      const before = double.requests.length;
      const nb = makeNotebook([{ source: 'a = 1', tags: ['parameters'] }]);
      const cases: [unknown, string][] = [
        [{ notebook: nb }, 'body.job'],
        [{ job: 'x', notebook: nb, extra: 1 }, 'body.extra'],
        [{ job: 'a//b', notebook: nb }, 'job'],
        [{ job: 'a/../b', notebook: nb }, 'job'],
        [{ job: 'bad:name', notebook: nb }, 'job'],
        [{ job: 'x', notebook: { nbformat: 4 } }, 'notebook'],
        [{ job: 'x', notebook: nb, parameters: { b: 1 } }, 'parameters.b'],
      ];
      for (const [body, field] of cases) {
        const res = await post(body);
        expect([res.status, res.body.error.code]).toEqual([400, 'NBSTAGE_VALIDATION']);
        expect(res.body.error.message).toContain(field);
      }
      const read = await post({ job: 'x', notebook: nb }, svc().read);
      expect(read.status).toBe(403);
      // Earlier submissions are still being followed in the background (GETs of their queue
      // items and consoles): only this test's jobs and any write count here.
      const ours = double.requests
        .slice(before)
        .filter(
          (r) =>
            r.method !== 'GET' ||
            r.path.includes('createItem') ||
            /^\/job\/(x|a|bad(%3A|:)name)(\/|$)/.test(r.path),
        )
        .map((r) => `${r.method} ${r.path}`);
      expect(ours).toEqual([]);
      expect(
        [...double.items.keys()].filter((k) => ['x', 'a', 'a/b', 'bad:name'].includes(k)),
      ).toEqual([]);
      const missing = await api()
        .get('/api/v1/jobs/never-submitted/source')
        .set('Authorization', bearer(svc().read));
      expect(missing.status).toBe(404);
    });
  });

  it('never shows the Jenkins token: not in logs, answers, CLI output or the home', async () => {
    const basic = Buffer.from(`${double.user}:${double.token}`).toString('base64');
    const everything = [...seen, ...svc().logs].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(svc().logs.some((l) => l.includes('job submitted'))).toBe(true);
    expect(everything).not.toContain(double.token);
    expect(everything).not.toContain(basic);
    for (const file of filesUnder(svc().home)) {
      const content = fs.readFileSync(file);
      expect(content.includes(double.token)).toBe(false);
      expect(content.includes(basic)).toBe(false);
    }
    for (const item of double.items.values()) {
      expect(item.config).not.toContain(double.token);
    }
  });
});

describe('nbstage submit without a reachable Jenkins', () => {
  describe('Jenkins not configured', () => {
    const svc = useService({ workers: 0, env: {} });

    it('POST /api/v1/jobs answers 503 NBSTAGE_JENKINS_NOT_CONFIGURED; submit exits 5', async () => {
      const res = await request(svc().url)
        .post('/api/v1/jobs')
        .set('Authorization', bearer(svc().run))
        .send({ job: 'x', notebook: makeNotebook(['1']) });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('NBSTAGE_JENKINS_NOT_CONFIGURED');
      const cli = await runCli(
        ['submit', writeNotebook(makeNotebook(['1'])), '--job', 'x', '--server', svc().url],
        { env: { NBSTAGE_TOKEN: svc().run } },
      );
      expect(cli.code).toBe(5);
      expect(cli.stderr).toContain('Jenkins is not configured on this service');
    });
  });

  describe('Jenkins unreachable', () => {
    const token = `tok-${randomUUID()}`;
    const gone: { url: string } = { url: '' };
    const options = { workers: 0, env: {}, jenkins: null as NpmJenkinsApi | null };
    beforeAll(async () => {
      const double = await JenkinsDouble.start();
      gone.url = double.url;
      await double.close();
      options.jenkins = new NpmJenkinsApi({ url: gone.url, user: 'bot', token });
    });
    const svc = useService(options);

    it('submit exits 5 with a message naming Jenkins, and the builds still list', async () => {
      const res = await runCli(
        ['submit', writeNotebook(makeNotebook(['1'])), '--job', 'x', '--server', svc().url],
        { env: { NBSTAGE_TOKEN: svc().run } },
      );
      expect(res.code).toBe(5);
      expect(res.stderr).toMatch(
        /cannot reach Jenkins at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/,
      );
      expect(res.stderr).not.toContain(token);
      expect(svc().logs.join('\n')).not.toContain(token);
      // No version and no Jenkins, but the service holds the job's notebook: an empty history.
      const builds = await request(svc().url)
        .get('/api/v1/jobs/x/builds')
        .set('Authorization', bearer(svc().read));
      expect([builds.status, builds.body]).toEqual([200, []]);
      const unknown = await request(svc().url)
        .get('/api/v1/jobs/never-submitted/builds')
        .set('Authorization', bearer(svc().read));
      expect(unknown.status).toBe(404);
    });

    it('the CLI cannot reach the service: exit 5', async () => {
      const res = await runCli(
        ['submit', writeNotebook(makeNotebook(['1'])), '--job', 'x', '--server', gone.url],
        { env: { NBSTAGE_TOKEN: svc().run } },
      );
      expect(res.code).toBe(5);
      expect(res.stderr).toContain('cannot reach the nbstage service');
    });
  });
});
