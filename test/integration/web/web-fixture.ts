/**
 * What the web page suites share: a job whose name holds a slash and spaces, seeded with three
 * builds through the real HTTP API (markdown, parameters, recorded metrics, ANSI colours, an
 * image, and an HTML output whose script tries to reach the page), notebooks that wait on a
 * gate file so a test can watch a run live, and helpers to wait for runs over HTTP.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Notebook } from '../../../pipelines/notebook/model';
import type { ServiceRun } from '../../../server/runs/service-run';
import { gateFile, makeNotebook } from '../../helpers/notebooks';

/** A 4x4 red PNG, base64. */
export const RED_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGO4YGAARwzEcQD4QxMBrujpGwAAAABJRU5ErkJggg==';

/**
 * The HTML output's script: everything it tries would leave a mark on the page (an attribute on
 * the page's body, its title, a global, the cookie copied out) if it could reach it.
 */
export const HOSTILE_HTML =
  '<p id="inner">HTML output <b>bold</b></p><table class="dataframe"><tr><th>x</th><td>1</td></tr></table>' +
  '<script>' +
  'document.body.setAttribute("data-ran", "inline");' +
  'try { window.parent.document.body.setAttribute("data-pwned", "parent"); } catch (e) {}' +
  'try { window.top.document.title = "pwned"; } catch (e) {}' +
  'try { window.parent.pwned = document.cookie; } catch (e) {}' +
  '</script>' +
  '<img src="x" onerror="window.parent.document.body.setAttribute(\'data-pwned\', \'onerror\')">';

/** A notebook with every kind of content the version page shows; `variant` changes a source. */
export function showcaseNotebook(variant: number): Notebook {
  return makeNotebook([
    {
      type: 'markdown',
      source: '# Training report\n\nA *markdown* cell with a [link](https://example.org).',
    },
    { source: 'lr = 0.1\nepochs = 2', tags: ['parameters'] },
    'import nbstage\nnbstage.record("accuracy", round(0.5 + lr, 3))\nnbstage.record("loss", round(1 - lr, 3))',
    `print("\\x1b[31mred text\\x1b[0m and plain, variant ${variant}")`,
    `from IPython.display import HTML, display\ndisplay(HTML(${JSON.stringify(HOSTILE_HTML)}))`,
    `import base64\nfrom IPython.display import Image, display\ndisplay(Image(data=base64.b64decode("${RED_PNG}"), width=32))`,
  ]);
}

/** A notebook that prints, waits for the file `gate` (at most 60 s), then prints twice more. */
export function gatedNotebook(): Notebook {
  return makeNotebook([
    { source: 'gate = ""', tags: ['parameters'] },
    'print("first output", flush=True)',
    'import os, time\n' +
      'deadline = time.time() + 60\n' +
      'while not os.path.exists(gate) and time.time() < deadline:\n' +
      '    time.sleep(0.02)\n' +
      'print("second output", flush=True)',
    'print("\\x1b[32mthird output\\x1b[0m")',
  ]);
}

/** A job name as Jenkins folders make them: a slash and spaces. */
export function jobName(): string {
  return `team/web e2e ${randomUUID().slice(0, 8)}`;
}

/** Where a gated run waits (create the file to let it go on; sandboxes show it). */
export function gatePath(): string {
  return gateFile();
}

/** Calls the service's API with a bearer token. */
export async function api<T>(
  url: string,
  token: string,
  route: string,
  body?: object,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Creates a run and returns its record. */
export async function createRun(url: string, token: string, body: object): Promise<ServiceRun> {
  const res = await api<ServiceRun>(url, token, '/api/v1/runs', body);
  if (res.status !== 201) {
    throw new Error(`POST /api/v1/runs: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Polls a run until it has finished and been versioned (or finished without a version). */
export async function untilVersioned(url: string, token: string, id: string): Promise<ServiceRun> {
  for (;;) {
    const { body } = await api<ServiceRun>(url, token, `/api/v1/runs/${id}`);
    if (body.version !== null || (body.finishedAt !== null && body.state === 'error')) {
      return body;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Seeds builds 1..3 of `job` (learning rate 0.1, 0.2, 0.3; build 3 changes a source). */
export async function seedBuilds(url: string, token: string, job: string): Promise<ServiceRun[]> {
  const records: ServiceRun[] = [];
  for (const build of [1, 2, 3]) {
    const run = await createRun(url, token, {
      notebook: showcaseNotebook(build === 3 ? 2 : 1),
      notebookName: 'train.ipynb',
      job,
      build: String(build),
      parameters: { lr: build / 10 },
      jenkins: { buildUrl: `https://jenkins.example.org/job/team/job/web/${build}/` },
    });
    const done = await untilVersioned(url, token, run.id);
    if (done.state !== 'completed') {
      throw new Error(`seed build ${build}: ${done.state} ${JSON.stringify(done.error)}`);
    }
    records.push(done);
  }
  return records;
}

/** The README's worked example of checks: `examples/checks/evaluate.ipynb`. */
export const CHECKS_EXAMPLE = path.join(__dirname, '../../../examples/checks/evaluate.ipynb');

/** The gates the README's example of checks runs with. */
export const CHECKS_GATES = ['accuracy >= baseline - 0.01', 'recall >= 0.7'];

/**
 * Two builds of the checks example as the README tells them, each checked against the job's last
 * success: build 1 (threshold 0.5, no baseline yet: passes) and build 2 (threshold 0.6: its
 * confusion table differs and both gates fail, exit 6).
 */
export async function seedCheckedBuilds(
  url: string,
  token: string,
  job: string,
): Promise<ServiceRun[]> {
  const notebook = JSON.parse(fs.readFileSync(CHECKS_EXAMPLE, 'utf8')) as Notebook;
  const records: ServiceRun[] = [];
  for (const [build, threshold] of [
    [1, 0.5],
    [2, 0.6],
  ]) {
    const run = await createRun(url, token, {
      notebook,
      notebookName: 'evaluate.ipynb',
      job,
      build: String(build),
      parameters: { threshold },
      baseline: 'last-success',
      gates: CHECKS_GATES,
    });
    records.push(await untilVersioned(url, token, run.id));
  }
  return records;
}
