/**
 * A secret printed in pieces by a run whose service is killed (SIGKILL of `nbstage serve`) while
 * the run sleeps: the next service on the same home versions the partial notebook it rebuilds
 * from the run's events, and neither that notebook, nor any file under the home, nor anything in
 * git holds the secret; `****` stands where it was. Failing expectations show text reversed.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import { MASK } from '../../../pipelines/secrets/mask';
import type { ServiceRun } from '../../../server/runs/service-run';
import { cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';
import { alive, descendants, survivors } from '../../helpers/processes';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';
import {
  bearer,
  filesUnder,
  gitObjects,
  jobPath,
  notebookText,
  untilOutput,
} from './service-fixture';

const SECRET = `Sk3-${randomUUID()}`;
const HALF = 9;

function reversed(text: string): string {
  return [...text].reverse().join('');
}

function leaks(where: string, text: string | Buffer): [string, boolean, boolean] {
  return [where, text.includes(SECRET), text.includes(SECRET.slice(HALF))];
}

describe('a secret printed in pieces by a run whose service was killed', () => {
  const home = tempDir();
  const admin = `test-${randomUUID()}`;
  const job = `test-${randomUUID()}/masking-restart`;
  const started: number[] = [];
  let second: ServeProcess | undefined;
  let record: ServiceRun;
  let versioned: Notebook;

  const get = (url: string, route: string): request.Test =>
    request(url).get(route).set('Authorization', bearer(admin));

  beforeAll(async () => {
    const first = await startServeProcess(home, admin, ['--workers', '1']);
    started.push(first.child.pid ?? 0);
    const res = await request(first.url)
      .post('/api/v1/runs')
      .set('Authorization', bearer(admin))
      .send({
        notebook: makeNotebook([
          'import os, sys, time\ns = os.environ["API_KEY"]\n' +
            `print("halves", s[:${HALF}], end="", flush=True)\ntime.sleep(0.3)\nprint(s[${HALF}:], flush=True)`,
          'for c in s:\n    print(c, end="", flush=True)\n    time.sleep(0.005)\nprint(flush=True)',
          `print("split", s[:${HALF}], end="", flush=True)\ntime.sleep(0.3)\n` +
            `print(s[${HALF}:], "end", file=sys.stderr, flush=True)\n` +
            'print("asleep", flush=True)\ntime.sleep(60)',
        ]),
        job,
        build: '1',
        secrets: { API_KEY: SECRET },
      });
    expect(res.status).toBe(201);
    const id = (res.body as ServiceRun).id;
    await untilOutput(first.url, admin, id, 'asleep');
    const tree = descendants(first.child.pid ?? 0);
    started.push(...tree);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(await survivors(tree, 20000)).toEqual([]);
    second = await startServeProcess(home, admin, ['--workers', '1']);
    started.push(second.child.pid ?? 0);
    record = (await get(second.url, `/api/v1/runs/${id}`)).body as ServiceRun;
    versioned = (await get(second.url, `/api/v1/jobs/${jobPath(job)}/builds/1/notebook`))
      .body as Notebook;
  });

  afterAll(async () => {
    if (second !== undefined && second.child.exitCode === null) {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    for (const pid of started) {
      if (pid > 0 && alive(pid)) {
        process.kill(pid, 'SIGKILL');
      }
    }
    cleanupDirs();
  });

  it('versions the partial notebook with **** where the secret was', () => {
    expect(record).toMatchObject({ state: 'error', version: { tag: expect.any(String) } });
    const text = notebookText(versioned);
    expect(leaks('versioned notebook', text)).toEqual(['versioned notebook', false, false]);
    expect(reversed(text)).toBe(reversed(`halves ${MASK}\n${MASK}\nsplit ${MASK} end\nasleep\n`));
  });

  it('leaves the secret in no file under the home and nothing in git', () => {
    const gitDir = path.join(home, 'history.git');
    const contents: [string, Buffer][] = [
      ...filesUnder(home).map(
        (file) => [path.relative(home, file), fs.readFileSync(file)] as [string, Buffer],
      ),
      ['git refs', execFileSync('git', ['--git-dir', gitDir, 'for-each-ref'])],
      ['git objects', gitObjects(gitDir)],
    ];
    for (const [name, data] of contents) {
      expect(leaks(name, name)).toEqual([name, false, false]);
      expect(leaks(name, data)).toEqual([name, false, false]);
    }
    expect(contents.find(([n]) => n === 'git objects')?.[1].includes(`split ${MASK}`)).toBe(true);
  });
});
