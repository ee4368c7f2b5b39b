/**
 * Secrets on one real service, printed in pieces (two halves flushed apart, one character at a
 * time, half to stdout and half to stderr), equal to a parameter value, in the Jenkins build tag,
 * used as a metric name and as an artifact's file name: none of it reaches the websocket (texts
 * joined), the partial notebook while the run is in flight, the executed notebook, the run record,
 * the job's pages, the service log, any file under the home (names too) or anything in git (refs
 * too); each shows `****` where the secret was. A run whose job name holds a secret is refused,
 * and leaves nothing behind. Failing expectations show text reversed, so a failure never prints
 * the secret as it is.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import { MASK } from '../../../pipelines/secrets/mask';
import { LOGIN_COOKIE } from '../../../server/auth/middleware';
import type { ServiceRun } from '../../../server/runs/service-run';
import { gateFile, makeNotebook } from '../../helpers/notebooks';
import {
  bearer,
  filesUnder,
  gitObjects,
  jobPath,
  notebookText,
  openStream,
  settled,
  untilOutput,
  useService,
  type StreamResult,
} from './service-fixture';

const SECRET = `Sv7-${randomUUID()}`;
const HALF = 9;

/** Reversed, so that a failing expectation never prints the secret as it is. */
function reversed(text: string): string {
  return [...text].reverse().join('');
}

/** Whether `text` holds the secret or its second half, as a failing expectation shows it. */
function leaks(where: string, text: string | Buffer): [string, boolean, boolean] {
  return [where, text.includes(SECRET), text.includes(SECRET.slice(HALF))];
}

/** The text of the stream's outputs, joined in order (stdout and stderr alike). */
function streamText(stream: StreamResult): string {
  return stream.messages
    .filter((m) => m.event.type === 'output')
    .map((m) => {
      const output = m.event.output as { output_type: string; text?: string | string[] };
      return [output.text ?? ''].flat().join('');
    })
    .join('');
}

/** Every file under `home` as [relative name, content], and the names of git's refs. */
function homeContents(home: string): [string, Buffer][] {
  const files = filesUnder(home).map(
    (file) => [path.relative(home, file), fs.readFileSync(file)] as [string, Buffer],
  );
  const refs = execFileSync('git', [
    '--git-dir',
    path.join(home, 'history.git'),
    'for-each-ref',
    '--format=%(refname)',
  ]);
  return [
    ...files,
    ['git refs', refs],
    ['git objects', gitObjects(path.join(home, 'history.git'))],
  ];
}

describe('a secret printed in pieces, through the service', () => {
  const svc = useService();
  const job = `test-${randomUUID()}/masking`;
  const get = (route: string): request.Test =>
    request(svc().url).get(route).set('Authorization', bearer(svc().read));
  /** A page as the web page's user sees it: logged in with the read token (a session cookie). */
  let session: string | null = null;
  const page = async (route: string): Promise<request.Response> => {
    if (session === null) {
      const login = await request(svc().url)
        .post('/login')
        .type('form')
        .send({ token: svc().read, next: '/' });
      const set = (login.headers['set-cookie'] as unknown as string[]).find((c) =>
        c.startsWith(`${LOGIN_COOKIE}=`),
      );
      session = (set ?? '').split(';')[0];
    }
    return request(svc().url).get(route).set('Cookie', session);
  };

  let run: ServiceRun;
  let stream: StreamResult;
  let partial: Notebook;
  let partialFiles: [string, Buffer][];

  beforeAll(async () => {
    const go = gateFile();
    const nb = makeNotebook([
      { source: 'token = ""\ngo = ""', tags: ['parameters'] },
      'import os, sys, time\ns = os.environ["API_KEY"]\n' +
        `print("halves", s[:${HALF}], end="", flush=True)\ntime.sleep(0.3)\nprint(s[${HALF}:], flush=True)`,
      'print("chars ", end="", flush=True)\nfor c in s:\n    print(c, end="", flush=True)\n    time.sleep(0.005)\nprint(flush=True)',
      `print("split", s[:${HALF}], end="", flush=True)\ntime.sleep(0.3)\n` +
        `print(s[${HALF}:], "end", file=sys.stderr, flush=True)`,
      'import nbstage\nnbstage.record(s, 0.5)\n' +
        'with open(os.path.join(os.environ["NBSTAGE_ARTIFACTS"], s + ".txt"), "w") as f:\n' +
        '    f.write("artifact")\n' +
        'print("same as the parameter:", token == s, flush=True)',
      'deadline = time.time() + 60\n' +
        'while not os.path.exists(go) and time.time() < deadline:\n' +
        '    time.sleep(0.02)\nprint("done")',
    ]);
    const created = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .send({
        notebook: nb,
        job,
        build: '1',
        secrets: { API_KEY: SECRET },
        parameters: { token: SECRET, go },
        jenkins: { buildTag: `jenkins-${SECRET}-1` },
      });
    expect(created.status).toBe(201);
    const id = (created.body as ServiceRun).id;
    const streaming = openStream(svc().url, id, { token: svc().read, from: 0 });
    // While the run waits for the go file: its partial notebook and everything on disk.
    await untilOutput(svc().url, svc().read, id, 'same as the parameter: True');
    partial = (await get(`/api/v1/runs/${id}/notebook`)).body as Notebook;
    partialFiles = homeContents(svc().home);
    fs.writeFileSync(go, '');
    stream = await streaming;
    run = await settled(svc(), id);
  });

  it('ran, with the secret in the kernel', () => {
    expect(run.state).toBe('completed');
    expect(notebookText(partial)).toContain('same as the parameter: True\n');
  });

  it('never reaches the websocket, whose texts joined show **** where it was', () => {
    const text = streamText(stream);
    expect(leaks('stream text', text)).toEqual(['stream text', false, false]);
    expect(reversed(text)).toContain(
      reversed(`halves ${MASK}\nchars ${MASK}\nsplit ${MASK} end\n`),
    );
    expect(leaks('stream', JSON.stringify(stream.messages))).toEqual(['stream', false, false]);
  });

  it('never reaches the partial notebook or any file while the run is in flight', () => {
    const text = JSON.stringify(partial);
    expect(leaks('partial notebook', text)).toEqual(['partial notebook', false, false]);
    expect(reversed(notebookText(partial))).toContain(reversed(`split ${MASK} end\n`));
    expect(text).toContain(`token = \\"${MASK}\\"`);
    for (const [name, data] of partialFiles) {
      expect(leaks(name, name)).toEqual([name, false, false]);
      expect(leaks(name, data)).toEqual([name, false, false]);
    }
    // The scan read what was written: the masked text is on disk.
    expect(
      partialFiles.some(
        ([name, data]) => name.endsWith('events.jsonl') && data.includes(`"text":"${MASK}\\n"`),
      ),
    ).toBe(true);
  });

  it('keeps the metric, the artifact, the parameter and the build tag masked in the record', () => {
    expect(run.metrics).toEqual({ [MASK]: 0.5 });
    expect(run.artifacts.map((a) => a.name)).toEqual([`${MASK}.txt`]);
    expect(run.parameters).toMatchObject({ token: MASK });
    expect(run.jenkins).toEqual({ buildTag: `jenkins-${MASK}-1` });
    expect(leaks('record', JSON.stringify(run))).toEqual(['record', false, false]);
  });

  it('never reaches a response, the job page, the log, a file under the home or git', async () => {
    const bodies: [string, string][] = [];
    for (const route of [
      `/api/v1/runs/${run.id}`,
      '/api/v1/runs',
      `/api/v1/runs/${run.id}/notebook`,
      `/api/v1/runs/${run.id}/junit`,
      `/api/v1/runs/${run.id}/html`,
      `/api/v1/runs/${run.id}/artifacts`,
      `/api/v1/jobs/${jobPath(job)}/builds`,
      `/api/v1/jobs/${jobPath(job)}/builds/1`,
      `/api/v1/jobs/${jobPath(job)}/builds/1/notebook`,
      '/metrics',
    ]) {
      const res = await get(route);
      expect([route, res.status]).toEqual([route, 200]);
      bodies.push([route, res.text]);
    }
    for (const route of [
      `/jobs/${jobPath(job)}`,
      `/jobs/${jobPath(job)}/builds/1`,
      `/runs/${run.id}`,
    ]) {
      const res = await page(route);
      expect([route, res.status]).toEqual([route, 200]);
      bodies.push([route, res.text]);
    }
    // The job page charts the metric under its masked name.
    expect(bodies.find(([r]) => r === `/jobs/${jobPath(job)}`)?.[1]).toContain(MASK);
    expect(notebookText(JSON.parse(bodies[2][1]) as Notebook)).toContain(`halves ${MASK}\n`);
    for (const [where, body] of bodies) {
      expect(leaks(where, body)).toEqual([where, false, false]);
    }
    const files = homeContents(svc().home);
    for (const [name, data] of files) {
      expect(leaks(name, name)).toEqual([name, false, false]);
      expect(leaks(name, data)).toEqual([name, false, false]);
    }
    const objects = files.find(([name]) => name === 'git objects')?.[1] ?? Buffer.alloc(0);
    expect(objects.includes(`halves ${MASK}`)).toBe(true);
    expect(objects.includes(`"${MASK}": 0.5`)).toBe(true);
    expect(leaks('log', svc().logs.join('\n'))).toEqual(['log', false, false]);
  });

  it('refuses a run whose job name holds the secret, naming the field, and keeps nothing of it', async () => {
    const runsBefore = fs.readdirSync(path.join(svc().home, 'runs')).length;
    const res = await request(svc().url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(svc().run))
      .send({
        notebook: makeNotebook(['print(1)']),
        job: `team/${SECRET}`,
        secrets: { API_KEY: SECRET },
      });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body\.job: holds the value of secret API_KEY/);
    expect(leaks('response', res.text)).toEqual(['response', false, false]);
    expect(fs.readdirSync(path.join(svc().home, 'runs'))).toHaveLength(runsBefore);
    for (const [name, data] of homeContents(svc().home)) {
      expect(leaks(name, data)).toEqual([name, false, false]);
    }
    expect(leaks('log', svc().logs.join('\n'))).toEqual(['log', false, false]);
  });
});
