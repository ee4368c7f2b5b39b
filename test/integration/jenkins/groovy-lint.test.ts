/**
 * npm-groovy-lint (CodeNarc) passes, failing on warnings, on the shared library's vars/, on
 * Jenkinsfile.example, and on the Jenkinsfiles `nbstage jenkinsfile` generates for notebooks of
 * every shape (stages with agents and timeouts, no stages, every parameter type, quotes and
 * backslashes in names, a submitted job's fetch).
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateJenkinsfile } from '../../../jenkins-plugin-bridge/jenkinsfile/generate';
import type { Notebook } from '../../../pipelines/notebook/model';
import { groovyLint } from '../../helpers/groovy';
import { cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';

const ROOT = path.resolve(__dirname, '../../..');

/** Jenkinsfile.example and the generated ones, side by side in a fresh folder. */
function jenkinsfiles(dir: string): string[] {
  const example = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'examples/ml-pipeline/train.ipynb'), 'utf8'),
  ) as Notebook;
  const quickstart = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'examples/quickstart.ipynb'), 'utf8'),
  ) as Notebook;
  const tricky = makeNotebook([
    {
      source:
        'name = "it\'s a \\\\ path"  # who\'s running\nflag = True\nn = 3\nxs = [1, 2]\nexpr = 2 ** 8',
      tags: ['parameters'],
    },
    {
      source: 'print(name)',
      tags: ["stage:load 'raw' data"],
      metadata: { nbstage: { agent: 'linux && gpu' } },
    },
    { source: 'print(n)', tags: ['stage:report$x'] },
  ]);
  const plain = makeNotebook(['print(1)']);
  const files: [string, string][] = [
    ['example-by-hand', fs.readFileSync(path.join(ROOT, 'Jenkinsfile.example'), 'utf8')],
    ['example', generateJenkinsfile(example, { notebookPath: 'examples/ml-pipeline/train.ipynb' })],
    [
      'submitted',
      generateJenkinsfile(example, {
        notebookPath: 'train.ipynb',
        server: 'http://nbstage.internal:8080',
        fetchJob: 'team/ml churn',
        library: 'nbstage@v1',
        credentialsId: 'ml-nbstage',
      }),
    ],
    [
      'checked',
      generateJenkinsfile(example, {
        notebookPath: 'examples/ml-pipeline/train.ipynb',
        baseline: 'last-success',
        gates: ['accuracy >= baseline - 0.01', 'loss <= 0.5'],
      }),
    ],
    ['quickstart', generateJenkinsfile(quickstart, { notebookPath: 'examples/quickstart.ipynb' })],
    ['tricky', generateJenkinsfile(tricky, { notebookPath: "notebooks/o'neil \\ nb.ipynb" })],
    ['plain', generateJenkinsfile(plain, { notebookPath: 'plain.ipynb' })],
  ];
  return files.map(([name, text]) => {
    fs.writeFileSync(path.join(dir, `${name}.Jenkinsfile`), text);
    return `${name}.Jenkinsfile`;
  });
}

describe('npm-groovy-lint', () => {
  afterAll(cleanupDirs);

  it('passes on vars/', async () => {
    const lint = await groovyLint(
      ['jenkins-plugin-bridge/vars'],
      path.join(ROOT, 'jenkins-plugin-bridge/.groovylintrc.json'),
    );
    expect([lint.code, lint.output]).toEqual([0, expect.stringContaining('4 linted files')]);
    expect(lint.output).not.toMatch(/\bwarning\b|\berror\b {2}/);
  }, 120_000);

  it('passes on Jenkinsfile.example and on every generated Jenkinsfile', async () => {
    const dir = tempDir();
    const files = jenkinsfiles(dir);
    const lint = await groovyLint(
      files,
      path.join(ROOT, 'jenkins-plugin-bridge/jenkinsfile/.groovylintrc.json'),
      dir,
    );
    process.stderr.write(lint.output);
    expect([lint.code, lint.output]).toEqual([
      0,
      expect.stringContaining(`${files.length} linted files`),
    ]);
    expect(lint.output).not.toMatch(/\bwarning\b/);
  }, 120_000);
});
