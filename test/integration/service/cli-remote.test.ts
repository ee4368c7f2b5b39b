/**
 * `nbstage run --server URL` through the real CLI against a real service: exit codes 0, 1 (a
 * failing cell) and 2 (bad input, one line), the executed notebook, JUnit and HTML written
 * locally, and SIGTERM mid-run: exit 130 within Jenkins' 5 s, the remote run cancelled, the
 * partial notebook written.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import type { ServiceRun } from '../../../server/runs/service-run';
import {
  cellText,
  makeNotebook,
  readJson,
  runCli,
  signalOnOutput,
  tempDir,
  writeNotebook,
  type CliResult,
} from '../../helpers/notebooks';
import { findAll, parseXml } from '../../unit/reports/python-parsers';
import { bearer, settled, useService } from './service-fixture';

describe('nbstage run --server', () => {
  const svc = useService();

  const remote = (
    file: string,
    args: string[],
    options: {
      token?: string;
      onStdout?: NonNullable<Parameters<typeof runCli>[1]>['onStdout'];
    } = {},
  ): Promise<CliResult> =>
    runCli(['run', '--no-progress', file, '--server', svc().url, ...args], {
      env: { NBSTAGE_TOKEN: options.token ?? svc().run, NBSTAGE_URL: '' },
      onStdout: options.onStdout,
    });

  const runsOf = async (job: string): Promise<ServiceRun[]> =>
    (
      await request(svc().url)
        .get(`/api/v1/runs?job=${encodeURIComponent(job)}`)
        .set('Authorization', bearer(svc().read))
    ).body as ServiceRun[];

  it('exit 0: outputs on the console, notebook, JUnit and HTML written locally', async () => {
    const dir = tempDir();
    const job = `test-${randomUUID()}`;
    const file = writeNotebook(
      makeNotebook(['print("hello from the service")', '6 * 7']),
      'ok.ipynb',
      dir,
    );
    const out = path.join(dir, 'out', 'ok.executed.ipynb');
    const junit = path.join(dir, 'out', 'ok.xml');
    const html = path.join(dir, 'out', 'ok.html');
    const res = await remote(file, [
      '-o',
      out,
      '--junit',
      junit,
      '--html',
      html,
      '--job',
      job,
      '--build',
      '1',
    ]);
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('hello from the service');
    expect(res.stdout).toContain('42');
    const nb = readJson<Notebook>(out);
    expect(cellText(nb, 0)).toBe('hello from the service\n');
    expect(cellText(nb, 1)).toBe('42');
    expect(nb.metadata.nbstage).toMatchObject({ status: 'completed', job, build: '1' });
    expect(findAll(parseXml(fs.readFileSync(junit, 'utf8')), 'testcase')).toHaveLength(2);
    expect(fs.readFileSync(html, 'utf8')).toContain('hello from the service');
    expect(fs.existsSync(path.join(dir, 'out', 'ok_files', 'report.css'))).toBe(true);
    const [run] = await runsOf(job);
    expect(run).toMatchObject({ state: 'completed', createdBy: svc().runName });
    // The local notebook is the service's executed notebook.
    const served = await request(svc().url)
      .get(`/api/v1/runs/${run.id}/notebook`)
      .set('Authorization', bearer(svc().read));
    expect(JSON.parse(served.text)).toEqual(nb);
  });

  it('exit 1: a failing cell, reported and written', async () => {
    const dir = tempDir();
    const job = `test-${randomUUID()}`;
    const file = writeNotebook(
      makeNotebook(['print("first")', 'raise ValueError("boom")', 'print("never")']),
      'fail.ipynb',
      dir,
    );
    const out = path.join(dir, 'fail.out.ipynb');
    const junit = path.join(dir, 'fail.xml');
    const res = await remote(file, ['-o', out, '--junit', junit, '--job', job]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/ValueError/);
    const nb = readJson<Notebook>(out);
    expect(cellText(nb, 0)).toBe('first\n');
    expect(cellText(nb, 1)).toBe('ValueError: boom');
    expect(cellText(nb, 2)).toBe('');
    expect(nb.metadata.nbstage).toMatchObject({ status: 'failed' });
    const failures = findAll(parseXml(fs.readFileSync(junit, 'utf8')), 'failure');
    expect(failures).toHaveLength(1);
    expect((await runsOf(job))[0]).toMatchObject({ state: 'failed' });
  });

  it('exit 2 on one line: a bad notebook, a read token, no token; no run is created', async () => {
    const before = svc().service.runs.list().length;
    const dir = tempDir();
    const broken = writeNotebook('{"cells": [', 'broken.ipynb', dir);
    const invalid = writeNotebook(
      JSON.stringify({ ...makeNotebook(['1']), nbformat: 'four' }),
      'invalid.ipynb',
      dir,
    );
    const good = writeNotebook(makeNotebook(['1']), 'good.ipynb', dir);
    for (const [file, token, message] of [
      [broken, svc().run, /broken\.ipynb/],
      [invalid, svc().run, /invalid\.ipynb.*nbformat/],
      [good, svc().read, /role "run"/],
      [good, '', /NBSTAGE_TOKEN/],
    ] as [string, string, RegExp][]) {
      const res = await remote(file, [], { token });
      expect([path.basename(file), res.code]).toEqual([path.basename(file), 2]);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(message);
      if (token !== '') {
        expect(res.stderr).not.toContain(token);
      }
    }
    expect(svc().service.runs.list().length).toBe(before);
  });

  it('SIGTERM mid-run: exit 130 within 5 s, the remote run cancelled, the partial notebook written', async () => {
    const dir = tempDir();
    const job = `test-${randomUUID()}`;
    const file = writeNotebook(
      makeNotebook([
        'print("step one", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(60)\nprint("never")',
        'print("not reached")',
      ]),
      'long.ipynb',
      dir,
    );
    const out = path.join(dir, 'long.out.ipynb');
    const sigterm = signalOnOutput(/sleeping/, 'SIGTERM');
    const res = await remote(file, ['-o', out, '--job', job], { onStdout: sigterm.onStdout });
    const elapsed = Date.now() - sigterm.sentAt();
    expect(sigterm.sentAt()).toBeGreaterThan(0);
    expect(res.code).toBe(130);
    expect(elapsed).toBeLessThan(5000);
    const nb = readJson<Notebook>(out);
    expect(cellText(nb, 0)).toBe('step one\n');
    expect(cellText(nb, 1)).toContain('sleeping');
    expect(cellText(nb, 1)).not.toContain('never');
    expect(nb.metadata.nbstage).toMatchObject({ status: 'cancelled' });
    const [run] = await runsOf(job);
    expect((await settled(svc(), run.id)).state).toBe('cancelled');
  });
});
