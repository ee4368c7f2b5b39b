/**
 * Realistic executed notebooks and run records for the version store tests: twenty cells with
 * text, a table, a ~30 KB PNG and a recorded metric, as the executor leaves them; plus helpers
 * to read a bare repository with the real git.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JSONObject, Notebook, Output } from '../../../pipelines/notebook/model';
import { METRIC_MIME } from '../../../pipelines/reports/run-metadata';

/** Deterministic pseudo-random bytes (xorshift32), like the deflate stream of a real PNG. */
export function pseudoRandomBytes(size: number, seed = 42): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A ~30 KB base64 PNG (signature + incompressible data, as a real plot's IDAT is). */
export function fakePng(seed = 7): string {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pseudoRandomBytes(22_500, seed)]).toString('base64');
}

/** Options of {@link realisticNotebook}. */
export interface NotebookOptions {
  /** The value of the `accuracy` metric (output and metadata). */
  accuracy?: number;
  /** Source of the training cell (to make source diffs). */
  learningRate?: number;
  status?: string;
  job?: string;
  build?: string;
  png?: string;
}

const TABLE_HTML = [
  '<table border="1" class="dataframe">\n',
  '<thead><tr><th></th><th>feature</th><th>mean</th><th>std</th></tr></thead>\n',
  '<tbody>\n',
  ...Array.from(
    { length: 12 },
    (_, i) =>
      `<tr><th>${i}</th><td>f${i}</td><td>${(i * 0.731).toFixed(3)}</td><td>${(1 + i * 0.05).toFixed(3)}</td></tr>\n`,
  ),
  '</tbody>\n</table>\n',
];

function code(
  id: string,
  source: string,
  outputs: Output[] = [],
  count = 1,
): Notebook['cells'][number] {
  return {
    cell_type: 'code',
    id,
    source,
    metadata: {
      nbstage: { status: 'ok', duration_ms: 12, stage: null },
      execution: {
        'iopub.execute_input': '2026-01-01T10:00:00.000000Z',
        'iopub.status.busy': '2026-01-01T10:00:00.000000Z',
        'iopub.status.idle': '2026-01-01T10:00:00.012000Z',
        'shell.execute_reply': '2026-01-01T10:00:00.012000Z',
      },
    },
    execution_count: count,
    outputs,
  };
}

function markdown(id: string, source: string): Notebook['cells'][number] {
  return { cell_type: 'markdown', id, source, metadata: {} };
}

/** An executed training notebook of 20 cells (about 40 KB serialized). */
export function realisticNotebook(options: NotebookOptions = {}): Notebook {
  const accuracy = options.accuracy ?? 0.9;
  const lr = options.learningRate ?? 0.01;
  const cells: Notebook['cells'] = [
    markdown('m-title', '# Train the classifier\n\nLoads the data, trains, evaluates.'),
    code('c-params', 'epochs = 3\nlearning_rate = 0.01\n', [], 1),
    code(
      'c-imports',
      'import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n',
      [],
      2,
    ),
    markdown('m-data', '## Data'),
    code(
      'c-load',
      "df = pd.read_csv('data.csv')\nprint(df.shape)\n",
      [{ output_type: 'stream', name: 'stdout', text: '(10000, 12)\n' }],
      3,
    ),
    code(
      'c-describe',
      'df.describe().T',
      [
        {
          output_type: 'execute_result',
          execution_count: 4,
          data: {
            'text/html': TABLE_HTML,
            'text/plain': ['      feature   mean    std\n', '0          f0  0.000  1.000\n'],
          },
          metadata: {},
        },
      ],
      4,
    ),
    code('c-split', 'train, test = df[:8000], df[8000:]\n', [], 5),
    markdown('m-model', '## Model'),
    code(
      'c-train',
      `model = train(train, epochs=epochs, lr=${lr})\n`,
      [
        {
          output_type: 'stream',
          name: 'stdout',
          text: ['epoch 1 loss 0.693\n', 'epoch 2 loss 0.412\n', 'epoch 3 loss 0.301\n'],
        },
      ],
      6,
    ),
    code(
      'c-plot',
      "plt.plot(history['loss'])\nplt.show()\n",
      [
        {
          output_type: 'display_data',
          data: {
            'image/png': options.png ?? fakePng(),
            'text/plain': '<Figure size 640x480 with 1 Axes>',
          },
          metadata: {},
        },
      ],
      7,
    ),
    markdown('m-eval', '## Evaluation'),
    code(
      'c-eval',
      "accuracy = evaluate(model, test)\nnbstage.record('accuracy', accuracy)\n",
      [
        {
          output_type: 'display_data',
          data: {
            [METRIC_MIME]: { name: 'accuracy', value: accuracy },
            'text/plain': `accuracy = ${accuracy}`,
          },
          metadata: {},
        },
      ],
      8,
    ),
    code(
      'c-report',
      "print(f'accuracy: {accuracy:.4f}')\n",
      [{ output_type: 'stream', name: 'stdout', text: `accuracy: ${accuracy.toFixed(4)}\n` }],
      9,
    ),
    ...Array.from({ length: 6 }, (_, i) =>
      code(
        `c-extra-${i}`,
        `# step ${i}\nresult_${i} = step(${i})\nresult_${i}\n`,
        [
          {
            output_type: 'execute_result',
            execution_count: 10 + i,
            data: { 'text/plain': `Result(step=${i}, ok=True)` },
            metadata: {},
          },
        ],
        10 + i,
      ),
    ),
    markdown('m-end', 'Done.'),
  ];
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python', version: '3.11.2' },
      nbstage: {
        job: options.job ?? 'team/ml/train',
        build: options.build ?? '1',
        status: options.status ?? 'completed',
        kernel: 'python3',
        metrics: { accuracy },
        parameters: { epochs: 3, learning_rate: lr },
      },
    },
    cells,
  };
}

/** A run record like the runner's `run.json`. */
export function runRecord(options: NotebookOptions & { start?: string } = {}): JSONObject {
  return {
    status: options.status ?? 'completed',
    start: options.start ?? '2026-01-01T10:00:00.000Z',
    end: '2026-01-01T10:00:05.000Z',
    duration: 5,
    kernel: 'python3',
    parameters: { epochs: 3, learning_rate: options.learningRate ?? 0.01 },
    metrics: { accuracy: options.accuracy ?? 0.9 },
    exception: null,
    environment: { python: '3.11.2', host: 'agent-1' },
  };
}

/** Runs git on a bare repository (tests only: the real git with the machine's config off). */
export function git(gitDir: string, args: string[], input?: string): string {
  return execFileSync('git', ['--git-dir', gitDir, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: os.devNull },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Total bytes of the files under a folder (apparent sizes, like `du -b`). */
export function treeBytes(dir: string): number {
  if (!fs.existsSync(dir)) {
    return 0;
  }
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(file) : fs.statSync(file).size;
  }
  return total;
}

/** Bytes of disk blocks used under a folder (like `du`). */
export function treeBlocks(dir: string): number {
  if (!fs.existsSync(dir)) {
    return 0;
  }
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBlocks(file) + 4096 : fs.statSync(file).blocks * 512;
  }
  return total;
}
