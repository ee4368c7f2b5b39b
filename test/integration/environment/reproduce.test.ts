/**
 * `nbstage reproduce` through a real `nbstage serve` and real kernels: a build runs again from
 * its stored notebook, parameters, memory limit and workspace inputs (the content store's, not
 * the files as they are now), as `<build>-repro-N`, and is checked against the stored version:
 * exit 0 when every cell matches, 6 naming the cell that does not. Secrets are asked for again;
 * an unknown build is bad input. The version's run.json carries the environment, the caller's
 * git state and the memory limit.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BuildVersion } from '../../../server/store/types';
import { makeNotebook, runCli, tempDir, writeNotebook } from '../../helpers/notebooks';
import { useServeProcess } from '../../helpers/serve-process';

describe('nbstage reproduce', () => {
  const service = useServeProcess();
  const home = service.home;
  const token = (): string => service.token('run');

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(args, { env: { NBSTAGE_TOKEN: token(), NBSTAGE_URL: service.url(), ...env } });
  const api = async <T>(route: string): Promise<T> =>
    (await (
      await fetch(`${service.url()}${route}`, { headers: { Authorization: `Bearer ${token()}` } })
    ).json()) as T;
  const version = (job: string, build: string) =>
    api<{ run: Record<string, unknown> }>(
      `/api/v1/jobs/${encodeURIComponent(job)}/builds/${build}`,
    );

  /** A git checkout holding `data.txt` and a notebook that prints it and its parameter. */
  function checkout(): { dir: string; notebook: string } {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'data.txt'), 'alpha\n');
    const notebook = writeNotebook(
      makeNotebook([
        { source: 'n = 0', tags: ['parameters'] },
        'print(open("data.txt").read().strip(), n * 2)',
      ]),
      'read.ipynb',
      dir,
    );
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'data');
    return { dir, notebook };
  }

  it('runs a build again from its stored inputs, not today’s files, and matches (exit 0)', async () => {
    const job = `repro-${randomUUID()}`;
    const { dir, notebook } = checkout();
    const first = await cli([
      'run',
      '--no-progress',
      '--job',
      job,
      '--build',
      '7',
      '-p',
      'n=21',
      '--memory',
      '512M',
      '--workspace',
      dir,
      notebook,
    ]);
    expect([first.code, first.stdout]).toEqual([0, expect.stringContaining('alpha 42')]);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir }).toString().trim();
    const stored = (await version(job, '7')).run;
    expect(stored).toMatchObject({
      memory: 512 * 1024 * 1024,
      parameters: { n: 21 },
      environment: { git: { commit: head, dirty: false }, packages: expect.any(Object) },
    });

    // Today's file says something else: the reproduction reads the stored one.
    fs.writeFileSync(path.join(dir, 'data.txt'), 'beta\n');
    const again = await cli(['reproduce', job, '7', '--no-color']);
    expect([again.code, again.stderr]).toEqual([0, expect.stringContaining('checks passed')]);
    expect(again.stdout).toContain('alpha 42');
    expect(again.stdout).not.toContain('beta');
    expect(again.stderr).toContain(`reproducing ${job} #7 as #7-repro-1`);
    expect(again.stderr).toContain('baseline build 7');
    expect(again.stderr).toContain("environment: the same as #7's");

    const builds = await api<BuildVersion[]>(`/api/v1/jobs/${encodeURIComponent(job)}/builds`);
    expect(builds.map((b) => b.build)).toEqual(['7-repro-1', '7']);
    const reproduced = (await version(job, '7-repro-1')).run;
    expect(reproduced).toMatchObject({
      reproduces: { build: '7' },
      memory: 512 * 1024 * 1024,
      parameters: { n: 21 },
      checks: { passed: true, baseline: 'build 7' },
    });
    // A second reproduction is the next build.
    const twice = await cli(['reproduce', job, '7', '--json']);
    expect(twice.code).toBe(0);
    expect(JSON.parse(twice.stdout)).toMatchObject({
      reproduction: '7-repro-2',
      exit_code: 0,
      environment: { packages: { added: [], removed: [], changed: [] } },
    });

    // Without a service it runs here from the home's store and content, and stores nothing.
    const local = await cli(['reproduce', job, '7', '--home', home, '--no-color'], {
      NBSTAGE_URL: '',
    });
    expect([local.code, local.stderr]).toEqual([0, expect.stringContaining('checks passed')]);
    expect(local.stdout).toContain('alpha 42');
    expect(local.stderr).toContain(`reproducing ${job} #7 here (not stored as a build`);
    expect(local.stderr).toContain("environment: the same as #7's");
    const after = await api<BuildVersion[]>(`/api/v1/jobs/${encodeURIComponent(job)}/builds`);
    expect(after.map((b) => b.build)).toEqual(['7-repro-2', '7-repro-1', '7']);
  }, 180_000);

  it('names the cell of a notebook that does not give the same outputs twice (exit 6)', async () => {
    const job = `repro-${randomUUID()}`;
    const notebook = writeNotebook(
      makeNotebook(['x = 1', 'import random\nprint(random.random())', 'print("done")']),
    );
    const first = await cli(['run', '--no-progress', '--job', job, '--build', '1', notebook], {
      WORKSPACE: '',
    });
    expect(first.code).toBe(0);
    const again = await cli(['reproduce', job, '1', '--no-color']);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/✗ cell 1: outputs differ from the baseline: /);
    expect(again.stderr).not.toMatch(/✗ cell [02]:/);
    expect(again.stderr).toContain('checks failed (baseline build 1)');
    const local = await cli(['reproduce', job, '1', '--home', home, '--no-color'], {
      NBSTAGE_URL: '',
    });
    expect(local.code).toBe(6);
    expect(local.stderr).toMatch(/✗ cell 1: outputs differ from the baseline: /);
    expect(local.stderr).not.toMatch(/✗ cell [02]:/);
  }, 120_000);

  it('asks again for the secrets a build ran with; an unknown build is bad input', async () => {
    const job = `repro-${randomUUID()}`;
    const notebook = writeNotebook(makeNotebook(['import os\nprint(len(os.environ["API_KEY"]))']));
    const first = await cli(
      ['run', '--no-progress', '--job', job, '--build', '1', '--secret', 'API_KEY', notebook],
      { API_KEY: 'k-1234567', WORKSPACE: '' },
    );
    expect([first.code, first.stdout]).toEqual([0, expect.stringContaining('9')]);
    const without = await cli(['reproduce', job, '1']);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('ran with the secret API_KEY, which nbstage never stores');
    const withIt = await cli(['reproduce', job, '1', '--secret', 'API_KEY'], {
      API_KEY: 'k-7654321',
    });
    expect([withIt.code, withIt.stdout]).toEqual([0, expect.stringContaining('9')]);
    const unknown = await cli(['reproduce', job, '99']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('has no build "99"');
    const here = { NBSTAGE_URL: '' };
    const localWithout = await cli(['reproduce', job, '1', '--home', home], here);
    expect(localWithout.code).toBe(2);
    expect(localWithout.stderr).toContain(
      'ran with the secret API_KEY, which nbstage never stores',
    );
    const localUnknown = await cli(['reproduce', job, '99', '--home', home], here);
    expect([localUnknown.code, localUnknown.stderr]).toEqual([
      2,
      expect.stringContaining('has no build "99"'),
    ]);

    // The API refuses a body it does not know before anything is queued, naming the field.
    const post = async (body: unknown) => {
      const res = await fetch(
        `${service.url()}/api/v1/jobs/${encodeURIComponent(job)}/builds/1/reproduce`,
        {
          method: 'POST',
          headers: { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        },
      );
      return { status: res.status, text: await res.text() };
    };
    const builds = await api<BuildVersion[]>(`/api/v1/jobs/${encodeURIComponent(job)}/builds`);
    for (const [body, names] of [
      [{ secrets: { API_KEY: 'x' }, rtol: -1 }, 'rtol'],
      [{ secrets: { API_KEY: 'x' }, stages: ['a'] }, 'stages'],
      [{ secrets: { 'not a name': 'x' } }, 'secrets'],
    ] as const) {
      const res = await post(body);
      expect([res.status, res.text]).toEqual([400, expect.stringContaining(names)]);
    }
    const after = await api<BuildVersion[]>(`/api/v1/jobs/${encodeURIComponent(job)}/builds`);
    expect(after.map((b) => b.build)).toEqual(builds.map((b) => b.build));
  }, 120_000);
});
