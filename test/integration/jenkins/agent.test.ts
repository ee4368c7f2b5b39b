/**
 * Plays the Jenkins agent end to end: the exact shell command the nbstageRun step builds (taken
 * from the real Groovy step, with its credentials bound) runs under bash with Jenkins' variables
 * in a temp workspace against a real nbstage service. The workspace then holds what the junit
 * plugin parses (testsuite/testcase/failure), the executed notebook, the HTML report and the
 * notebook's artifacts; the version links back to the Jenkins build. SIGTERM to the command's
 * process group (how Jenkins aborts an `sh` step) cancels the run well within Jenkins' 5 s and
 * leaves the partial notebook to archive.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Notebook } from '../../../pipelines/notebook/model';
import { callsOf, runSteps } from '../../helpers/groovy';
import { cellText, makeNotebook, tempDir } from '../../helpers/notebooks';
import { findAll, parseXml } from '../../unit/reports/python-parsers';
import { bearer, useService } from '../service/service-fixture';

const CLI = `node '${path.resolve(__dirname, '../../../bin/nbstage.js')}'`;

/** The step's `sh` command and the environment it runs with, from the Groovy step itself. */
async function stepCommand(
  script: string,
  env: Record<string, string>,
  credentials: Record<string, string>,
): Promise<{ command: string; env: Record<string, string> }> {
  const [outcome] = await runSteps([{ script, env, credentials, shStatus: 0 }]);
  const [sh] = callsOf(outcome, 'sh');
  return { command: String(sh.script), env: sh.env as Record<string, string> };
}

/** Runs the command as the agent would; `onOutput` sees stdout as it grows. */
function runOnAgent(
  command: string,
  env: Record<string, string>,
  cwd: string,
  onOutput?: (all: string, pid: number) => void,
): Promise<{ code: number | null; stdout: string; stderr: string; endedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onOutput?.(stdout, child.pid ?? 0);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, endedAt: Date.now() }));
  });
}

describe('nbstageRun on an agent against a real service', () => {
  const svc = useService();
  const job = `test-team/agent e2e ${Date.now()}`;
  const jenkinsEnv = (build: string): Record<string, string> => ({
    JOB_NAME: job,
    BUILD_NUMBER: build,
    BUILD_TAG: `jenkins-${job.replace(/\//g, '-')}-${build}`,
    BUILD_URL: `http://jenkins.test/job/team/job/agent/${build}/`,
    GIT_COMMIT: '0123456789abcdef0123456789abcdef01234567',
    JENKINS_URL: 'http://jenkins.test/',
    WORKSPACE: '',
    NBSTAGE_CLI: CLI,
  });

  it('leaves JUnit, the executed notebook, the report and artifacts in the workspace', async () => {
    const workspace = tempDir();
    const nb = makeNotebook([
      { source: 'import os\nn = 1', tags: ['parameters'] },
      {
        source:
          'print("train with", n)\nopen(os.path.join(os.environ["NBSTAGE_ARTIFACTS"], "model.txt"), "w").write("w=%d" % n)',
        tags: ['stage:train'],
      },
      { source: 'print("key is", os.environ["API_KEY"])' },
      { source: 'assert n < 3, "n too large"' },
    ]);
    fs.writeFileSync(path.join(workspace, 'train.ipynb'), JSON.stringify(nb));
    const env: Record<string, string> = {
      ...jenkinsEnv('7'),
      WORKSPACE: workspace,
      NBSTAGE_URL: svc().url,
    };
    const step = await stepCommand(
      "nbstageRun(notebook: 'train.ipynb', stage: 'train', parameters: [n: 5], secrets: [[credentialsId: 'api', name: 'API_KEY']])",
      env,
      { 'nbstage-token': svc().run, api: 'sup3r-s3cret' },
    );
    const ran = await runOnAgent(step.command, step.env, workspace);
    expect([ran.code, ran.stderr]).toEqual([1, expect.stringContaining('n too large')]);
    expect(ran.stdout).toContain('train with 5');
    expect(ran.stdout).toContain('\u001b['); // ANSI colours for ansiColor
    expect(ran.stdout).not.toContain('sup3r-s3cret');

    const out = path.join(workspace, 'nbstage/train');
    const suite = parseXml(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8'));
    const cases = findAll(suite, 'testcase');
    expect(
      findAll(suite, 'testsuite').length + (suite.tag === 'testsuite' ? 1 : 0),
    ).toBeGreaterThan(0);
    expect(cases.length).toBeGreaterThanOrEqual(3);
    const failures = cases.filter((c) => c.children.some((x) => x.tag === 'failure'));
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(failures[0])).toContain('n too large');

    const executed = JSON.parse(fs.readFileSync(path.join(out, 'train.ipynb'), 'utf8')) as Notebook;
    expect(cellText(executed, executed.cells.length - 3)).toContain('train with 5');
    const report = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(report).toContain('train with 5');
    expect(fs.readFileSync(path.join(out, 'artifacts/model.txt'), 'utf8')).toBe('w=5');
    for (const file of ['junit.xml', 'train.ipynb', 'report.html']) {
      expect(fs.readFileSync(path.join(out, file), 'utf8')).not.toContain('sup3r-s3cret');
    }

    const builds = await request(svc().url)
      .get(`/api/v1/jobs/${encodeURIComponent(job)}/builds`)
      .set('Authorization', bearer(svc().read));
    expect(builds.status).toBe(200);
    const build = (
      builds.body as { build: string; status: string; jenkinsUrl: string | null }[]
    ).find((b) => b.build === '7');
    expect(build).toMatchObject({ status: 'failed', jenkinsUrl: env.BUILD_URL });
  });

  it('cancels the run within 5 s of SIGTERM and keeps the partial notebook', async () => {
    const workspace = tempDir();
    const nb = makeNotebook([
      'print("first cell done")',
      'import time\nprint("sleeping", flush=True)\ntime.sleep(120)',
      'print("never")',
    ]);
    fs.writeFileSync(path.join(workspace, 'long.ipynb'), JSON.stringify(nb));
    const env = { ...jenkinsEnv('8'), WORKSPACE: workspace, NBSTAGE_URL: svc().url };
    const step = await stepCommand("nbstageRun(notebook: 'long.ipynb')", env, {
      'nbstage-token': svc().run,
    });
    let signalledAt = 0;
    const ran = await runOnAgent(step.command, step.env, workspace, (all, pid) => {
      if (signalledAt === 0 && all.includes('sleeping')) {
        signalledAt = Date.now();
        process.kill(-pid, 'SIGTERM');
      }
    });
    expect(signalledAt).toBeGreaterThan(0);
    expect(ran.code).toBe(130);
    expect(ran.endedAt - signalledAt).toBeLessThan(5000);
    const partial = JSON.parse(
      fs.readFileSync(path.join(workspace, 'nbstage/long/long.ipynb'), 'utf8'),
    ) as Notebook;
    expect(cellText(partial, 0)).toBe('first cell done\n');
    expect(cellText(partial, 1)).toContain('sleeping');
    expect(partial.metadata.nbstage?.status).toBe('cancelled');
    expect(fs.existsSync(path.join(workspace, 'nbstage/long/junit.xml'))).toBe(true);
    const runs = await request(svc().url)
      .get(`/api/v1/runs?job=${encodeURIComponent(job)}`)
      .set('Authorization', bearer(svc().read));
    expect(
      (runs.body as { build: string; state: string }[]).find((r) => r.build === '8')?.state,
    ).toBe('cancelled');
  });
});
