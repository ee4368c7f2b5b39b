/**
 * Checks through `nbstage serve`: `--baseline last-success` is resolved from the service's store
 * before the run is queued and checked by the worker, over three builds of one job. The first has
 * no baseline (passes, with a note), the second regresses (exit 6, recorded as failed checks), the
 * third is compared with the first (the second, whose checks failed, is never the baseline) and
 * passes; the diff of builds 1 and 2 (API and page) sets their checks side by side. A malformed gate is refused with 400 before anything is queued.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceRun } from '../../../server/runs/service-run';
import type { NotebookDiff } from '../../../server/store/types';
import { makeNotebook, runCli, writeNotebook } from '../../helpers/notebooks';
import { useServeProcess } from '../../helpers/serve-process';

describe('checks through nbstage serve', () => {
  const service = useServeProcess();

  const api = async (route: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${service.url()}${route}`, {
      ...init,
      headers: { Authorization: `Bearer ${service.token('run')}`, ...(init.headers ?? {}) },
    });

  it('compares with the last build whose checks passed: pass, regress, recover', async () => {
    const job = `checks-${randomUUID()}`;
    const nb = writeNotebook(
      makeNotebook([
        { source: 'v = 0', tags: ['parameters'] },
        'import nbstage\nnbstage.record("score", v)\nprint("score", v)',
      ]),
    );
    const build = (n: number, v: number) =>
      runCli(
        [
          'run',
          '--no-progress',
          '--server',
          service.url(),
          '--job',
          job,
          '--build',
          String(n),
          '-p',
          `v=${v}`,
          '--baseline',
          'last-success',
          '--gate',
          'score >= baseline',
          nb,
        ],
        { env: { NBSTAGE_TOKEN: service.token('run'), WORKSPACE: '' } },
      );
    const first = await build(1, 42);
    expect([first.code, first.stderr]).toEqual([0, expect.stringContaining('checks passed')]);
    expect(first.stderr).toContain('has no build that completed with its checks passed yet');

    const second = await build(2, 41);
    expect(second.code).toBe(6);
    expect(second.stderr).toMatch(/✗ cell \d+: outputs differ from the baseline: .*42.*41/);
    expect(second.stderr).toContain('✗ gate score >= baseline');
    expect(second.stderr).toContain('baseline build 1 (last success)');

    const third = await build(3, 42);
    expect([third.code, third.stderr]).toEqual([0, expect.stringContaining('checks passed')]);
    expect(third.stderr).toContain('baseline build 1 (last success)');

    const runs = (await (await api('/api/v1/runs')).json()) as ServiceRun[];
    const byBuild = new Map(runs.filter((r) => r.job === job).map((r) => [r.build, r]));
    expect(byBuild.get('2')).toMatchObject({ state: 'completed', exitCode: 6 });
    expect(byBuild.get('2')?.checks).toMatchObject({ passed: false });
    expect(byBuild.get('3')?.checks).toMatchObject({ passed: true });
    // The service's reports of the regressed build say so: JUnit failures, the HTML verdict.
    const regressed = byBuild.get('2')?.id ?? '';
    const junit = await (await api(`/api/v1/runs/${regressed}/junit`)).text();
    expect(junit).toContain('type="output-mismatch"');
    expect(junit).toContain('name="gate: score &gt;= baseline"');
    const html = await (await api(`/api/v1/runs/${regressed}/html`)).text();
    expect(html).toContain('<h2>Checks: failed</h2>');
    expect(html).toContain('against build 1 (last success)');
    expect(html).toContain('differs from the baseline');

    // The diff of the good and the regressed build puts their checks side by side.
    const diff = (await (await api(`/api/v1/jobs/${job}/diff?a=1&b=2`)).json()) as NotebookDiff;
    expect(diff.checks.a).toMatchObject({ passed: true, baseline: null });
    expect(diff.checks.b).toMatchObject({ passed: false, baseline: 'build 1 (last success)' });
    const printed = diff.cells.find((c) => c.outputs.length > 0);
    expect(printed?.checks).toEqual({
      a: null,
      b: expect.objectContaining({ status: 'differs', message: expect.stringContaining('42') }),
    });
    const page = await (await api(`/jobs/${job}/diff?a=1&b=2`)).text();
    const panel = /<section class="panel check-changes">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    expect(panel).toMatch(
      /verdict<\/th><td><span[^>]*check-same">passed<\/span><\/td><td><span[^>]*check-differs">failed/,
    );
    expect(panel).toContain('<td>build 1 (last success)</td>');
    expect(panel).toMatch(
      /data-gate="score &gt;= baseline">.*<code>42<\/code>.*passed.*<code>41<\/code>.*failed/,
    );
    expect(page).toMatch(
      /#2 <span class="chip check-chip check-differs">differs from the baseline/,
    );
  }, 120_000);

  it('refuses a malformed gate and an unknown build before queueing (400, naming them)', async () => {
    const post = (body: object) =>
      api('/api/v1/runs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ notebook: makeNotebook(['1']), ...body }),
      });
    const gate = await post({ gates: ['score >=> 1'] });
    expect(gate.status).toBe(400);
    expect(JSON.stringify(await gate.json())).toContain('body.gates/0');
    const unknown = await post({ job: `none-${randomUUID()}`, baseline: '7' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain('has no build \\"7\\"');
  });
});
