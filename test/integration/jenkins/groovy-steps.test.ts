/**
 * The shared library's steps run under a real Groovy runtime (Debian's groovy) with the pipeline
 * steps stubbed: the exact `nbstage` command lines, credentials bound by variable (no secret in a
 * command), what is published (JUnit, archive, HTML Publisher only when installed, ansiColor only
 * when installed), the build description linking to the version, exit codes turned into stage
 * results, sessions opened and closed, the workspace arguments as the CLI's flags (the step's own
 * nbstage/ folder always left out); and Jenkinsfile.example plus a generated Jenkinsfile run
 * stage by stage as Jenkins would run them (example-pipeline.test.ts runs the example for real).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { generateJenkinsfile } from '../../../jenkins-plugin-bridge/jenkinsfile/generate';
import type { Notebook } from '../../../pipelines/notebook/model';
import { callsOf, runSteps, type StepOutcome, type StepScenario } from '../../helpers/groovy';
import { cleanupDirs } from '../../helpers/notebooks';

const ROOT = path.resolve(__dirname, '../../..');
const ENV = {
  NBSTAGE_URL: 'http://nbstage.test:8080/',
  JOB_NAME: 'team/ml train',
  BUILD_NUMBER: '7',
  BUILD_TAG: 'jenkins-team-ml train-7',
};
const CREDENTIALS = { 'nbstage-token': 'tok-123', 'wandb-key': 'hunter2' };

const scenarios: Record<string, StepScenario> = {
  full: {
    script: `nbstageRun(notebook: 'nb/train.ipynb', stage: 'train',
      parameters: [lr: 0.1, layers: [64, 32], name: "it's"], rawParameters: [tag: '007'],
      secrets: ['wandb-key'], kernel: 'python3', timeout: 600, cellTimeout: 60)`,
    env: ENV,
    credentials: CREDENTIALS,
    plugins: ['htmlpublisher', 'ansicolor'],
    files: ['nbstage/train/junit.xml', 'nbstage/train/report.html'],
  },
  bare: {
    script: "nbstageRun(notebook: 'a b.ipynb')",
    env: ENV,
    credentials: CREDENTIALS,
    files: ['nbstage/a_b/junit.xml', 'nbstage/a_b/report.html'],
    description: 'started by a timer',
  },
  cellFailed: {
    script: "nbstageRun(notebook: 'a.ipynb', stage: ['prepare', 'train'])",
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 1,
    files: ['nbstage/prepare+train/junit.xml'],
  },
  allowErrors: {
    script: "nbstageRun(notebook: 'a.ipynb', allowErrors: true)",
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 1,
  },
  cancelled: {
    script: "nbstageRun(notebook: 'a.ipynb')",
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 130,
  },
  checkFailed: {
    script: `nbstageRun(notebook: 'a.ipynb', baseline: 'last-success', rtol: 1e-3,
      gate: ['accuracy >= 0.9', "loss <= baseline * 1.05"])`,
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 6,
    files: ['nbstage/a/junit.xml'],
  },
  checkFailedFails: {
    script: "nbstageRun(notebook: 'a.ipynb', baseline: 'stored', onCheckFailure: 'FAILURE')",
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 6,
  },
  badCheckFailure: {
    script: "nbstageRun(notebook: 'a.ipynb', onCheckFailure: 'IGNORE')",
    env: ENV,
    credentials: CREDENTIALS,
  },
  unreachable: {
    script: "nbstageRun(notebook: 'a.ipynb')",
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 5,
  },
  noNotebook: { script: "nbstageRun(stage: 'x')", env: ENV, credentials: CREDENTIALS },
  unknownArg: {
    script: "nbstageRun(notebook: 'a.ipynb', stages: 'x')",
    env: ENV,
    credentials: CREDENTIALS,
  },
  noServer: {
    script: "nbstageRun(notebook: 'a.ipynb')",
    env: { JOB_NAME: 'j', BUILD_NUMBER: '1' },
    credentials: CREDENTIALS,
  },
  noCredentials: { script: "nbstageRun(notebook: 'a.ipynb')", env: ENV, credentials: {} },
  workspaceArgs: {
    script: `nbstageRun(notebook: 'nb/a.ipynb', workspace: "it's here", exclude: 'data/raw/',
      outputs: ['model/', '!model/*.tmp', 'reports/$HOME *.md'])`,
    env: ENV,
    credentials: CREDENTIALS,
  },
  workspaceWords: {
    script: `nbstageRun(notebook: 'a.ipynb', workspace: 'ws $(id)', exclude: ['*.tmp', '!keep.tmp'],
      outputs: ["it's", 'say "$x" \\\\ now'])`,
    // The command's words as the shell hands them over, one a line.
    env: { ...ENV, NBSTAGE_CLI: "printf '%s\\n'" },
    credentials: CREDENTIALS,
  },
  excludeList: {
    script: "nbstageRun(notebook: 'a.ipynb', exclude: ['data/', \"it's\"], noOutputs: true)",
    env: ENV,
    credentials: CREDENTIALS,
  },
  noOutputsFalse: {
    script: "nbstageRun(notebook: 'a.ipynb', noOutputs: false, outputs: [])",
    env: ENV,
    credentials: CREDENTIALS,
  },
  outputsAndNoOutputs: {
    script: "nbstageRun(notebook: 'a.ipynb', outputs: 'model/', noOutputs: true)",
    env: ENV,
    credentials: CREDENTIALS,
  },
  badExclude: {
    script: "nbstageRun(notebook: 'a.ipynb', exclude: ['data/', 3])",
    env: ENV,
    credentials: CREDENTIALS,
  },
  blankOutputs: {
    script: "nbstageRun(notebook: 'a.ipynb', outputs: ' ')",
    env: ENV,
    credentials: CREDENTIALS,
  },
  badNoOutputs: {
    script: "nbstageRun(notebook: 'a.ipynb', noOutputs: 'yes')",
    env: ENV,
    credentials: CREDENTIALS,
  },
  badWorkspace: {
    script: "nbstageRun(notebook: 'a.ipynb', workspace: '')",
    env: ENV,
    credentials: CREDENTIALS,
  },
  session: {
    script: `nbstageSession {
      nbstageRun(notebook: 'a.ipynb', stage: 'prepare')
      nbstageRun(notebook: 'a.ipynb', stage: 'train')
    }`,
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: [0, 1, 0],
  },
  closeFails: {
    script: "nbstageClose(session: 's-1', server: 'http://other:1')",
    env: ENV,
    credentials: CREDENTIALS,
    shStatus: 5,
  },
  fetch: {
    script: "nbstageFetch(job: 'team/ml train', notebook: 'train.ipynb')",
    env: ENV,
    credentials: CREDENTIALS,
  },
};

describe('the shared library under Groovy', () => {
  const outcomes: Record<string, StepOutcome> = {};
  let example: StepOutcome;
  let generated: StepOutcome;

  beforeAll(async () => {
    const names = Object.keys(scenarios);
    const nb = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'examples/ml-pipeline/train.ipynb'), 'utf8'),
    ) as Notebook;
    const results = await runSteps([
      ...names.map((n) => scenarios[n]),
      {
        jenkinsfile: fs.readFileSync(path.join(ROOT, 'Jenkinsfile.example'), 'utf8'),
        env: { JOB_NAME: 'ml/churn', BUILD_NUMBER: '12', BUILD_TAG: 'jenkins-ml-churn-12' },
        credentials: { 'nbstage-token': 't', 'wandb-api-key': 'wk' },
        params: { epochs: '3' },
      },
      {
        jenkinsfile: generateJenkinsfile(nb, {
          notebookPath: 'train.ipynb',
          server: 'http://nbstage.test:8080',
          fetchJob: 'ml/churn',
        }),
        env: { JOB_NAME: 'ml/churn', BUILD_NUMBER: '3' },
        credentials: { 'nbstage-token': 't' },
        params: { learning_rate: '0.5' },
      },
    ]);
    names.forEach((n, i) => {
      outcomes[n] = results[i];
    });
    example = results[names.length];
    generated = results[names.length + 1];
  }, 120_000);
  afterAll(cleanupDirs);

  it('runs nbstage with every argument quoted, secrets by name, the token bound', () => {
    const full = outcomes.full;
    expect(full.error).toBeNull();
    const [sh] = callsOf(full, 'sh');
    expect(sh.script).toBe(
      "nbstage run 'nb/train.ipynb' --server 'http://nbstage.test:8080/' --no-progress --color" +
        " -o 'nbstage/train/train.ipynb' --junit 'nbstage/train/junit.xml'" +
        " --html 'nbstage/train/report.html' --artifacts 'nbstage/train/artifacts'" +
        " --stage 'train' -p 'lr=0.1' -p 'layers=[64,32]' -p 'name=it'\"'\"'s' -r 'tag=007'" +
        " --secret WANDB_KEY -k 'python3' --timeout '600' --cell-timeout '60'" +
        " --exclude '/nbstage/'",
    );
    expect(sh.returnStatus).toBe(true);
    expect(sh.script).not.toContain('hunter2');
    expect(sh.script).not.toContain('tok-123');
    expect(sh.env).toMatchObject({ NBSTAGE_TOKEN: 'tok-123', WANDB_KEY: 'hunter2', ...ENV });
    expect(callsOf(full, 'withCredentials')[0].bindings).toEqual([
      { kind: 'string', credentialsId: 'nbstage-token', variable: 'NBSTAGE_TOKEN' },
      { kind: 'string', credentialsId: 'wandb-key', variable: 'WANDB_KEY' },
    ]);
  });

  it('publishes JUnit, the archive, the HTML report and a description linking to the version', () => {
    const full = outcomes.full;
    expect(full.calls.map((c) => c.step)).toEqual([
      'ansiColor',
      'withCredentials',
      'sh',
      'junit',
      'archiveArtifacts',
      'publishHTML',
    ]);
    expect(callsOf(full, 'junit')[0]).toMatchObject({ testResults: 'nbstage/train/junit.xml' });
    expect(callsOf(full, 'archiveArtifacts')[0]).toMatchObject({
      artifacts: 'nbstage/train/**',
      allowEmptyArchive: true,
    });
    expect(callsOf(full, 'publishHTML')[0].target).toMatchObject({
      reportDir: 'nbstage/train',
      reportFiles: 'report.html',
      keepAll: true,
    });
    expect(full.description).toBe(
      '<a href="http://nbstage.test:8080/jobs/team%2Fml%20train/builds/7">nbstage version team/ml train #7</a>',
    );
  });

  it('leaves out HTML Publisher and ansiColor when they are not installed, keeps a description', () => {
    const bare = outcomes.bare;
    expect(bare.error).toBeNull();
    expect(bare.calls.map((c) => c.step)).toEqual([
      'withCredentials',
      'sh',
      'junit',
      'archiveArtifacts',
    ]);
    expect(callsOf(bare, 'sh')[0].script).toContain(
      "nbstage run 'a b.ipynb' --server 'http://nbstage.test:8080/'",
    );
    expect(bare.description).toMatch(
      /^started by a timer<br><a href="http:\/\/nbstage.test:8080\/jobs\//,
    );
  });

  it('fails the stage per the run: a failed cell fails it after publishing, unless allowed', () => {
    const failed = outcomes.cellFailed;
    expect(failed.error).toBe('nbstage run a.ipynb: a cell failed (exit 1)');
    expect(failed.calls.map((c) => c.step)).toContain('junit');
    expect(callsOf(failed, 'sh')[0].script).toContain("--stage 'prepare' --stage 'train'");
    expect(callsOf(failed, 'junit')[0].testResults).toBe('nbstage/prepare+train/junit.xml');
    expect(outcomes.allowErrors.error).toBeNull();
    expect(outcomes.allowErrors.result).toBe(1);
    expect(callsOf(outcomes.allowErrors, 'sh')[0].script).toContain('--allow-errors');
    expect(outcomes.cancelled.buildResult).toBe('ABORTED');
    expect(outcomes.cancelled.error).toMatch(/cancelled \(exit 130\)/);
    expect(callsOf(outcomes.cancelled, 'archiveArtifacts')).toHaveLength(1);
    expect(outcomes.unreachable.error).toMatch(/could not be reached \(exit 5\)/);
  });

  it('marks the stage UNSTABLE when a check failed (exit 6), or fails it when asked to', () => {
    const unstable = outcomes.checkFailed;
    expect(unstable.error).toBeNull();
    expect(unstable.result).toBe(6);
    expect(unstable.buildResult).toBe('UNSTABLE');
    expect(callsOf(unstable, 'unstable')[0].message).toBe(
      'nbstage run a.ipynb: a check failed (outputs differ from the baseline, or a metric gate did not hold) (exit 6)',
    );
    const script = callsOf(unstable, 'sh')[0].script as string;
    expect(script).toContain(
      "--baseline 'last-success' --rtol '0.001' --gate 'accuracy >= 0.9' --gate 'loss <= baseline * 1.05'",
    );
    // The JUnit report with the check failures is still published.
    expect(callsOf(unstable, 'junit')).toHaveLength(1);
    expect(outcomes.checkFailedFails.error).toMatch(/a check failed .*\(exit 6\)/);
    expect(outcomes.checkFailedFails.buildResult).toBeNull();
    expect(outcomes.badCheckFailure.error).toMatch(
      /onCheckFailure must be 'UNSTABLE' or 'FAILURE'/,
    );
    expect(callsOf(outcomes.badCheckFailure, 'sh')).toHaveLength(0);
  });

  it('refuses bad arguments with a message naming the problem, before running anything', () => {
    expect(outcomes.noNotebook.error).toMatch(/notebook is required/);
    expect(outcomes.unknownArg.error).toMatch(/unknown argument\(s\) stages/);
    expect(outcomes.noServer.error).toMatch(/pass server: or set NBSTAGE_URL/);
    for (const name of ['noNotebook', 'unknownArg', 'noServer']) {
      expect(callsOf(outcomes[name], 'sh')).toEqual([]);
    }
    expect(outcomes.noCredentials.error).toMatch(/credentials entry with ID 'nbstage-token'/);
  });

  it('passes exclude:, outputs:, noOutputs: and workspace: as the CLI flags, each word quoted', () => {
    const script = (name: string): string => String(callsOf(outcomes[name], 'sh')[0]?.script);
    expect(outcomes.workspaceArgs.error).toBeNull();
    expect(script('workspaceArgs')).toMatch(
      / --artifacts 'nbstage\/a\/artifacts' --workspace 'it'"'"'s here' --exclude '\/nbstage\/'/,
    );
    expect(script('workspaceArgs').split(" --workspace 'it")[1]).toBe(
      `'"'"'s here' --exclude '/nbstage/' --exclude 'data/raw/'` +
        ` --outputs 'model/' --outputs '!model/*.tmp' --outputs 'reports/$HOME *.md'`,
    );
    expect(script('excludeList')).toMatch(
      / --exclude '\/nbstage\/' --exclude 'data\/' --exclude 'it'"'"'s' --no-outputs$/,
    );
    expect(outcomes.excludeList.error).toBeNull();
    // noOutputs: false and empty lists: the defaults, nothing added.
    expect(script('noOutputsFalse')).toMatch(/'nbstage\/a\/artifacts' --exclude '\/nbstage\/'$/);
    expect(outcomes.outputsAndNoOutputs.error).toMatch(
      /outputs and noOutputs: true exclude each other/,
    );
    expect(outcomes.badExclude.error).toMatch(/exclude must be a glob or a list of globs/);
    expect(outcomes.blankOutputs.error).toMatch(/outputs must be a glob or a list of globs/);
    expect(outcomes.badNoOutputs.error).toBe('nbstageRun: noOutputs must be true or false');
    expect(outcomes.badWorkspace.error).toBe('nbstageRun: workspace must be the path of a folder');
    // What the shell hands the CLI: the words as given, nothing expanded.
    const words = execFileSync('sh', ['-c', script('workspaceWords')], { encoding: 'utf8' });
    expect(words.slice(words.indexOf('--workspace\n')).split('\n')).toEqual([
      '--workspace',
      'ws $(id)',
      '--exclude',
      '/nbstage/',
      '--exclude',
      '*.tmp',
      '--exclude',
      '!keep.tmp',
      '--outputs',
      "it's",
      '--outputs',
      'say "$x" \\ now',
      '',
    ]);
    for (const name of [
      'outputsAndNoOutputs',
      'badExclude',
      'blankOutputs',
      'badNoOutputs',
      'badWorkspace',
    ]) {
      expect(callsOf(outcomes[name], 'sh')).toEqual([]);
    }
  });

  it('shares one session between runs and closes it even when a run fails', () => {
    const s = outcomes.session;
    const sh = callsOf(s, 'sh');
    expect(sh).toHaveLength(3);
    expect(sh.slice(0, 2).map((c) => (c.env as Record<string, string>).NBSTAGE_SESSION)).toEqual([
      ENV.BUILD_TAG,
      ENV.BUILD_TAG,
    ]);
    expect(sh[2].script).toBe(
      "nbstage session close 'jenkins-team-ml train-7' --server 'http://nbstage.test:8080/'",
    );
    expect((sh[2].env as Record<string, string>).NBSTAGE_TOKEN).toBe('tok-123');
    expect(s.error).toMatch(/a cell failed/);
    expect(outcomes.closeFails.error).toBeNull();
    expect(callsOf(outcomes.closeFails, 'echo')[0].message).toMatch(/could not close session s-1/);
  });

  it('fetches a submitted notebook with the exact nbstage fetch command', () => {
    expect(callsOf(outcomes.fetch, 'sh')[0].script).toBe(
      "nbstage fetch --server 'http://nbstage.test:8080/' 'team/ml train' -o 'train.ipynb'",
    );
  });

  it('runs Jenkinsfile.example stage by stage on the agents it names', () => {
    expect(example.error).toBeNull();
    const flow = example.calls
      .filter((c) => ['stage', 'agent', 'sh', 'stash', 'unstash'].includes(c.step))
      .map((c) =>
        c.step === 'stage'
          ? `stage ${String(c.name)}`
          : c.step === 'agent'
            ? `agent ${JSON.stringify(c.agent)}`
            : c.step === 'sh'
              ? `sh ${/--stage '(\w+)'/.exec(String(c.script))?.[1]}`
              : `${c.step} ${String(c.name)}`,
      );
    expect(flow).toEqual([
      'agent "none"',
      'stage Prepare, train and evaluate',
      'agent {"label":"gpu"}',
      'stage Prepare data',
      'sh prepare',
      'stage Train',
      'sh train',
      'stage Evaluate',
      'sh evaluate',
      'stash model',
      'stage Publish',
      'agent {"label":"cpu"}',
      'unstash model',
      'sh publish',
    ]);
    const sh = callsOf(example, 'sh').map((c) => String(c.script));
    expect(sh[0]).toContain("nbstage run 'examples/ml-pipeline/train.ipynb' --server");
    expect(sh[0]).toContain("--stage 'prepare' -r 'dataset=raw' --exclude '/nbstage/'");
    const train = callsOf(example, 'sh')[1];
    expect(train.script).toContain("--stage 'train' -p 'epochs=3' -p 'learning_rate=0.05'");
    expect(train.script).toContain('--secret WANDB_API_KEY --cell-timeout');
    expect(train.script).toMatch(/ --outputs 'examples\/ml-pipeline\/model\/'$/);
    expect((train.env as Record<string, string>).WANDB_API_KEY).toBe('wk');
    expect(sh[2]).toContain("-p 'full_eval=false'");
    expect(callsOf(example, 'stash')[0].includes).toBe('examples/ml-pipeline/model/**');
    expect(sh[3]).toMatch(/ --exclude 'examples\/ml-pipeline\/data\/'$/);
    expect(callsOf(example, 'archiveArtifacts').pop()?.artifacts).toBe(
      'examples/ml-pipeline/model/**',
    );
  });

  it('runs a generated Jenkinsfile: parameters with defaults, a stage per notebook stage', () => {
    expect(generated.error).toBeNull();
    expect(callsOf(generated, 'library')[0].name).toBe('nbstage');
    expect(
      callsOf(generated, 'parameter').map((p) => `${String(p.name)}=${String(p.defaultValue)}`),
    ).toEqual(['epochs=5', 'learning_rate=0.05', 'dataset=raw', 'full_eval=false']);
    expect(callsOf(generated, 'timeout')[0]).toMatchObject({ time: 3600, unit: 'SECONDS' });
    expect(callsOf(generated, 'stage').map((s) => s.name)).toEqual([
      'notebook',
      'prepare',
      'train',
      'evaluate',
      'publish',
    ]);
    expect(callsOf(generated, 'agent').map((a) => JSON.stringify(a.agent))).toEqual([
      '"none"',
      '"any"',
      '{"label":"gpu"}',
      '{"label":"gpu"}',
      '{"label":"gpu"}',
      '{"label":"cpu"}',
    ]);
    const sh = callsOf(generated, 'sh').map((c) => String(c.script));
    expect(sh).toHaveLength(5);
    expect(sh[0]).toBe(
      "nbstage fetch --server 'http://nbstage.test:8080' 'ml/churn' -o 'train.ipynb'",
    );
    expect(callsOf(generated, 'stash')).toEqual([
      { step: 'stash', name: 'nbstage-notebook', includes: 'train.ipynb' },
    ]);
    expect(callsOf(generated, 'unstash')).toHaveLength(4);
    expect(sh[2]).toContain(
      "--stage 'train' -p 'epochs=5' -p 'learning_rate=0.5' -p 'full_eval=false' -r 'dataset=raw' --cell-timeout '1800'",
    );
  });
});
