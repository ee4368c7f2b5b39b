/**
 * Jenkinsfile.example end to end: the real Groovy steps run the pipeline in the harness with two
 * fake agents ('gpu' and 'cpu', each a fresh checkout of the example in its own workspace), and
 * every `nbstageRun` really runs `nbstage run --server` in its agent's workspace against a real
 * `nbstage serve`. The data flows through the workspaces: prepare's data/train.csv comes back
 * into the gpu workspace, train reads it and writes model/model.json, evaluate reads the model,
 * `stash`/`unstash` carry model/ to the cpu workspace, and the model card publish writes there
 * holds exactly the weights train computed.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ignore from 'ignore';
import { fileTokenStore, tokensFile } from '../../../server/auth/tokens';
import type { ServiceRun } from '../../../server/runs/service-run';
import { callsOf, runSteps, type StepCall, type StepOutcome } from '../../helpers/groovy';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';
import { startServeProcess, type ServeProcess } from '../../helpers/serve-process';

const ROOT = path.resolve(__dirname, '../../..');
const EXAMPLE = 'examples/ml-pipeline';
const CLI = `node '${path.join(ROOT, 'bin/nbstage.js')}'`;

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * A fresh checkout on an agent: the example folder at its place in the repository, without what
 * its .gitignore names (what an earlier local run may have left there).
 */
function checkout(): string {
  const workspace = tempDir();
  const source = path.join(ROOT, EXAMPLE);
  const generated = ignore().add(fs.readFileSync(path.join(source, '.gitignore'), 'utf8'));
  fs.cpSync(source, path.join(workspace, EXAMPLE), {
    recursive: true,
    filter: (from) => {
      const rel = path.relative(source, from).split(path.sep).join('/');
      const isDir = fs.statSync(from).isDirectory();
      return rel === '' || !generated.ignores(isDir ? `${rel}/` : rel);
    },
  });
  return workspace;
}

/** The model train wrote. */
interface Model {
  features: string[];
  weights: number[];
  bias: number;
  trained_on: { file: string; rows: number; sha256: string };
}

describe('Jenkinsfile.example on two agents against a real nbstage serve', () => {
  let serve: ServeProcess | undefined;
  const home = tempDir();
  const admin = `test-${randomUUID()}`;
  const gpu = checkout();
  const cpu = checkout();
  const wandbKey = `test-${randomUUID()}`;
  const job = `test-${randomUUID()}`;
  let outcome: StepOutcome;
  let sh: StepCall[];

  beforeAll(async () => {
    // One worker with both labels: the nbstage workers of the gpu and the cpu agent. The
    // notebook's stages name their agent, and a run through the service needs a worker with it.
    serve = await startServeProcess(home, admin, ['--workers', '1', '--labels', 'cpu,gpu']);
    const store = fileTokenStore(tokensFile(home));
    const runToken = (await store.create({ role: 'run', name: `test-${randomUUID()}-run` })).token;
    const example = fs.readFileSync(path.join(ROOT, 'Jenkinsfile.example'), 'utf8');
    const address = "NBSTAGE_URL = 'http://nbstage.internal:8080'";
    expect(example.split(address)).toHaveLength(2);
    [outcome] = await runSteps(
      [
        {
          // The same pipeline, with the address of this service.
          jenkinsfile: example.replace(address, `NBSTAGE_URL = '${serve.url}'`),
          env: {
            JOB_NAME: job,
            BUILD_NUMBER: '1',
            BUILD_TAG: `jenkins-${job}-1`,
            NBSTAGE_CLI: CLI,
          },
          credentials: { 'nbstage-token': runToken, 'wandb-api-key': wandbKey },
          params: { epochs: '3' },
          agents: { gpu, cpu },
          runSh: true,
        },
      ],
      { timeoutMs: 180_000 },
    );
    sh = callsOf(outcome, 'sh');
  }, 240_000);
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    cleanupDirs();
  });

  /** The paths each stage's run was sent, by stage: the manifests the service keeps. */
  async function sentPaths(): Promise<Record<string, string[]>> {
    const get = async (route: string): Promise<unknown> => {
      const res = await fetch(`${serve?.url ?? ''}/api/v1${route}`, {
        headers: { Authorization: `Bearer ${admin}` },
      });
      expect(res.status).toBe(200);
      return res.json();
    };
    const runs = (await get(`/runs?job=${encodeURIComponent(job)}`)) as ServiceRun[];
    const sent: Record<string, string[]> = {};
    for (const run of runs) {
      const manifest = (await get(`/blobs/${run.workspace?.digest ?? ''}`)) as {
        entries: { path: string }[];
      };
      sent[run.stages.join('+')] = manifest.entries.map((e) => e.path);
    }
    return sent;
  }

  /** What a stage's `sh` printed, for a failing expectation to show. */
  const printed = (i: number): string => String(sh[i]?.output ?? '');

  it('runs every stage on its agent, each nbstageRun a real run that succeeds', () => {
    expect([outcome.error, sh.map((c) => c.status)]).toEqual([null, [0, 0, 0, 0]]);
    expect(sh.map((c) => (c.env as Record<string, string>).WORKSPACE)).toEqual([
      gpu,
      gpu,
      gpu,
      cpu,
    ]);
    expect(sh.map((c) => /--stage '(\w+)'/.exec(String(c.script))?.[1])).toEqual([
      'prepare',
      'train',
      'evaluate',
      'publish',
    ]);
    expect(printed(0)).toContain('wrote data/train.csv (158 rows)');
    expect(printed(1)).toContain('epoch 3/3');
    expect(sh.map((_, i) => printed(i)).join('\n')).not.toContain(wandbKey);
  });

  it("brings prepare's data/train.csv back into the first agent's workspace, and train reads it", () => {
    const trainCsv = path.join(gpu, EXAMPLE, 'data/train.csv');
    expect(printed(0)).toMatch(
      new RegExp(`workspace: wrote 2 outputs: .*${EXAMPLE}/data/train\\.csv`),
    );
    const model = JSON.parse(
      fs.readFileSync(path.join(gpu, EXAMPLE, 'model/model.json'), 'utf8'),
    ) as Model;
    expect(model.trained_on).toEqual({
      file: 'data/train.csv',
      rows: fs.readFileSync(trainCsv, 'utf8').trim().split('\n').length - 1,
      sha256: sha256(fs.readFileSync(trainCsv)),
    });
    // train's outputs: narrowed to model/ by the step's outputs: argument.
    expect(printed(1)).toContain(`workspace: wrote 1 outputs: ${EXAMPLE}/model/model.json`);
    expect(printed(2)).toContain(`workspace: wrote 1 outputs: ${EXAMPLE}/model/evaluation.json`);
  });

  it('carries model/ to the second agent by stash and unstash, and nothing else', () => {
    const files = [`${EXAMPLE}/model/evaluation.json`, `${EXAMPLE}/model/model.json`];
    expect(callsOf(outcome, 'stash')).toEqual([
      { step: 'stash', name: 'model', includes: `${EXAMPLE}/model/**`, files },
    ]);
    expect(callsOf(outcome, 'unstash')).toEqual([{ step: 'unstash', name: 'model', files }]);
    for (const file of files) {
      expect(fs.readFileSync(path.join(cpu, file))).toEqual(fs.readFileSync(path.join(gpu, file)));
    }
    expect(fs.existsSync(path.join(cpu, EXAMPLE, 'data/train.csv'))).toBe(false);
  });

  it("sends each run its agent's workspace, less the step's nbstage/ folder and exclude:", async () => {
    const sent = await sentPaths();
    expect(Object.keys(sent).sort()).toEqual(['evaluate', 'prepare', 'publish', 'train']);
    const nb = `${EXAMPLE}/train.ipynb`;
    const ignoreFile = `${EXAMPLE}/.gitignore`;
    const raw = `${EXAMPLE}/data/raw.csv`;
    const data = [raw, `${EXAMPLE}/data/test.csv`, `${EXAMPLE}/data/train.csv`];
    const model = [`${EXAMPLE}/model/evaluation.json`, `${EXAMPLE}/model/model.json`];
    expect(sent.prepare).toEqual([ignoreFile, raw, nb]);
    expect(sent.train).toEqual([ignoreFile, ...data, nb]);
    expect(sent.evaluate).toEqual([ignoreFile, ...data, model[1], nb]);
    // On the cpu agent: the unstashed model, the checkout without its data (exclude:).
    expect(sent.publish).toEqual([ignoreFile, ...model, nb]);
  });

  it('writes the model card on the second agent with exactly the weights train computed', () => {
    const model = JSON.parse(
      fs.readFileSync(path.join(gpu, EXAMPLE, 'model/model.json'), 'utf8'),
    ) as Model;
    expect(model.weights).toHaveLength(2);
    expect(model.weights.every((w) => Number.isFinite(w) && w !== 0)).toBe(true);
    expect(printed(3)).toContain(`workspace: wrote 1 outputs: ${EXAMPLE}/model/model-card.md`);
    const card = fs.readFileSync(path.join(cpu, EXAMPLE, 'model/model-card.md'), 'utf8');
    const block = /```json\n(.*)\n```/.exec(card)?.[1] ?? '';
    expect(JSON.parse(block)).toEqual({ weights: model.weights, bias: model.bias });
    const table = [...card.matchAll(/^\| (\S+) \| (\S+) \|$/gm)].slice(2);
    expect(table.map((m) => [m[1], Number(m[2])])).toEqual([
      ...model.features.map((f, i) => [f, model.weights[i]]),
      ['(bias)', model.bias],
    ]);
    expect(card).toContain(`trained for 3 epochs`);
    expect(card).toContain(model.trained_on.sha256.slice(0, 12));
    expect(fs.existsSync(path.join(gpu, EXAMPLE, 'model/model-card.md'))).toBe(false);
  });
});
