/**
 * `npm run bench`: nbstage side by side with nbclient (`jupyter execute`) and papermill, in one
 * process tree, on the same python3 kernelspec of the project's environment. Each case runs every
 * tool in turn, repeated, and prints one JSON line with the median and the minimum times and the
 * ratios nbstage/nbclient and nbstage/papermill of both (and the target ratio, where there is one).
 *
 * nbstage runs as users run it, `nbstage run` embedded, with its kernels launched directly over
 * ZMQ (the default). Cold cases give every nbstage run a fresh, empty NBSTAGE_RUNTIME_DIR and
 * leave no server running: (a) 500 trivial cells (target <= 0.9x nbclient), (b) a 10-cell notebook
 * (target <= 0.75x), (c) one cell printing 50 MB.
 * On a Jupyter server instead: `a-shared` and `b-warm` on the shared local server
 * (NBSTAGE_REUSE_SERVER=1) with a warm spare kernel after one warm-up run, stopped after the case;
 * `b-private` a private server per run (NBSTAGE_REUSE_SERVER=0), paying for starting a Jupyter
 * server and a kernel every time; `gateway` the 10-cell notebook on a Jupyter Kernel Gateway the
 * bench starts from .venv and stops (NBSTAGE_JUPYTER_URL, NBSTAGE_JUPYTER_TOKEN), against
 * nbclient only.
 * `warm-pool` (bench-warm-pool.ts): the cost of one more cell on a kernel that is already up, as a
 * worker's warm pool has it, in-process against nbclient's NotebookClient on a kernel started
 * before the clock (bench_nbclient_warm.py): (T201 - T1) / 200 over 1- and 201-cell notebooks
 * (target <= 0.9x).
 * `sandbox` (bench-sandbox.ts): what a bubblewrap sandbox adds to a kernel's start.
 * `startup`: each command's `--version` (what a process pays before it does anything; `node -e 0`
 * and `python -c pass` as the floors). `nodelay`: the websocket round trip of one trivial cell
 * with TCP_NODELAY off and on, and with pipelined requests.
 * Every run starts on a quiet machine: the bench pauses BENCH_PAUSE_MS (default 1500) after each
 * run of each tool, so background work of one (a spare kernel booting) never lands on the next
 * one's clock.
 * The service: `first-output` times POST /runs to the run's first output over the websocket with
 * a warm kernel (BENCH_FIRST_OUTPUT runs, default 40, p50 and p99); `burst` submits 50 ten-cell
 * notebooks at once to `nbstage serve` (2 workers) against papermill running them one after
 * another.
 * `flood`: a real `nbstage serve` process runs one cell that prints as fast as it can under a run
 * timeout (BENCH_FLOOD_TIMEOUT_S, default 25); the service's RSS and /healthz latency are sampled
 * every 100 ms, then the sizes of its events file, executed notebook and run page are reported
 * (BENCH_FLOOD_BIN runs another build's bin/nbstage.js, to compare).
 * Workspaces (bench-workspace.ts), `nbstage run --server` on a real `nbstage serve` (one worker)
 * through a byte-counting TCP proxy: `workspace-bytes` the bytes each way and the wall time of
 * the first, unchanged and one-line-changed runs of a workspace with a 48 MiB data file;
 * `workspace-files` what an unchanged 10,000-file workspace adds to a run (warm hash cache), in
 * total and on the client, with the cold first run and the service's share (check, copy, walk,
 * removal). Their series repeat BENCH_WS_REPEAT times (default 3).
 * `compare` (bench-compare.ts): the baseline check of two executed 1,000-cell notebooks, in
 * process (goal: under 1 s).
 * `environment` (bench-environment.ts): what the reproducibility record adds to a run (goal: under
 * 100 ms), and the per-cell cost of the memory hooks.
 * BENCH_NBSTAGE_BIN times another build's bin/nbstage.js in the nbstage column (before/after).
 * Repetitions: BENCH_REPEAT (default 5). Only some cases: BENCH_CASES=a,b,c,a-shared,b-warm,
 * b-private,gateway,warm-pool,sandbox,startup,nodelay,first-output,burst,flood,workspace-bytes,
 * workspace-files,compare,environment (the default: all), or
 * `npm run bench -- --only warm-pool,gateway`. Every server and kernel the bench starts is
 * stopped before it exits.
 */
import { compareCase } from './bench-compare';
import { environmentCost } from './bench-environment';
import { flood } from './bench-flood';
import { workspaceBytes, workspaceFiles } from './bench-workspace';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalJupyterServer } from '../kernels/jupyter-server';
import { KernelClient } from '../kernels/kernel-client';
import { stopSharedServers } from '../kernels/shared-server';
import { randomBytes } from 'node:crypto';
import { NbstageClient } from '../client/api-client';
import { startService } from '../server/service';
import { venvPython } from '../kernels/python-env';
import type { Notebook } from '../pipelines/notebook/model';
import {
  median,
  notebook,
  pause,
  percentile,
  ratio,
  repeat,
  root,
  tenCells,
  timed,
  trivialCells,
  venvBin,
} from './bench-common';
import { startKernelGateway, type KernelGateway } from './bench-gateway';
import { sandboxStart } from './bench-sandbox';
import { warmPool } from './bench-warm-pool';

// @jupyterlab/services reports every websocket with console.debug (the CLI silences it too).
console.debug = (): void => undefined;
const bin = process.env.BENCH_NBSTAGE_BIN ?? path.join(root, 'bin', 'nbstage.js');
const ALL_CASES =
  'a,b,c,a-shared,b-warm,b-private,gateway,warm-pool,sandbox,startup,nodelay,first-output,burst,flood,workspace-bytes,workspace-files,compare,environment';
/** Cases that run nbstage alone, without nbclient and papermill. */
const NBSTAGE_ONLY = new Set([
  'flood',
  'workspace-bytes',
  'workspace-files',
  'compare',
  'environment',
]);
const onlyAt = process.argv.indexOf('--only');
const cases = new Set(
  (onlyAt >= 0 && process.argv[onlyAt + 1] !== undefined
    ? process.argv[onlyAt + 1]
    : (process.env.BENCH_CASES ?? ALL_CASES)
  ).split(','),
);
const unknownCases = [...cases].filter((c) => !ALL_CASES.split(',').includes(c));
// The shared server's folder (cases a-shared, b-warm); cold runs get folders of their own.
const runtimeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-rt-'));

type Tool = 'nbstage' | 'nbclient' | 'papermill';

function command(
  tool: Tool,
  input: string,
  output: string,
  nbstageArgs: string[] = [],
): [string, string[]] {
  switch (tool) {
    case 'nbstage':
      return [
        process.execPath,
        [bin, 'run', input, '-o', output, '--no-progress', '-k', 'python3', ...nbstageArgs],
      ];
    case 'nbclient':
      return [
        path.join(venvBin, 'jupyter-execute'),
        [input, `--output=${output}`, '--kernel_name=python3'],
      ];
    case 'papermill':
      return [
        path.join(venvBin, 'papermill'),
        [input, output, '-k', 'python3', '--no-progress-bar', '--log-level', 'WARNING'],
      ];
  }
}

/**
 * Where `nbstage run` gets its kernels: `direct` (the default: launched over ZMQ), the `shared`
 * local server, a `private` server per run, or the bench's Kernel `gateway`.
 */
type NbstageKernels = 'direct' | 'shared' | 'private' | 'gateway';

const KERNELS_DESCRIBED: Record<NbstageKernels, string> = {
  direct:
    'kernel launched directly over ZMQ (the default); fresh empty NBSTAGE_RUNTIME_DIR per run',
  shared:
    'shared local Jupyter server (NBSTAGE_REUSE_SERVER=1), warm spare kernel after a warm-up run',
  private:
    'private Jupyter server per run (NBSTAGE_REUSE_SERVER=0); fresh empty NBSTAGE_RUNTIME_DIR per run',
  gateway:
    'Jupyter Kernel Gateway started by the bench (NBSTAGE_JUPYTER_URL), a new kernel per run',
};

/** The variables that choose where `nbstage run` gets its kernels (undefined: unset). */
function nbstageEnv(
  kernels: NbstageKernels,
  runtime: string,
  gateway: KernelGateway | undefined,
): NodeJS.ProcessEnv {
  if (kernels === 'gateway' && gateway === undefined) {
    throw new Error('the gateway case needs a running gateway');
  }
  return {
    NBSTAGE_RUNTIME_DIR: runtime,
    NBSTAGE_REUSE_SERVER: kernels === 'shared' ? '1' : kernels === 'private' ? '0' : undefined,
    NBSTAGE_JUPYTER_URL: kernels === 'gateway' ? gateway?.url : '',
    NBSTAGE_JUPYTER_TOKEN: kernels === 'gateway' ? gateway?.token : undefined,
  };
}

/** Options of {@link compare}. */
interface CompareOptions {
  nbstageArgs?: string[];
  /** The tools besides nbstage (default nbclient and papermill). */
  others?: Exclude<Tool, 'nbstage'>[];
  /** Most nbstage/nbclient (medians) the case must show. */
  target?: number;
  /** The running gateway, for `gateway`. */
  gateway?: KernelGateway;
}

/**
 * Runs `nb` with each tool once (file caches, .pyc), then `repeat` times, interleaved, and prints
 * the case's JSON line. nbstage's environment is made per run: cold kernels get a new runtime
 * folder each time, removed after the run; the shared server is stopped after the case.
 */
async function compare(
  name: string,
  nb: Notebook,
  description: string,
  kernels: NbstageKernels,
  options: CompareOptions = {},
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-'));
  const input = path.join(dir, `${name}.ipynb`);
  fs.writeFileSync(input, JSON.stringify(nb));
  const tools: Tool[] = ['nbstage', ...(options.others ?? ['nbclient', 'papermill'])];
  const times: Partial<Record<Tool, number[]>> = {};
  const runOnce = async (tool: Tool): Promise<number> => {
    const [cmd, args] = command(tool, input, path.join(dir, `${tool}.ipynb`), options.nbstageArgs);
    if (tool !== 'nbstage') {
      return timed(cmd, args);
    }
    const own =
      kernels === 'shared' ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-rt-'));
    try {
      return await timed(cmd, args, nbstageEnv(kernels, own ?? runtimeDir, options.gateway));
    } finally {
      if (own !== null) {
        await stopSharedServers(own);
        fs.rmSync(own, { recursive: true, force: true });
      }
    }
  };
  try {
    for (const tool of tools) {
      await runOnce(tool);
      await pause();
    }
    for (let i = 0; i < repeat; i++) {
      for (const tool of tools) {
        (times[tool] ??= []).push(await runOnce(tool));
        await pause();
      }
    }
  } finally {
    if (kernels === 'shared') {
      await stopSharedServers(runtimeDir);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const med = (t: Tool): number => median(times[t] ?? []);
  const min = (t: Tool): number => Math.min(...(times[t] ?? []));
  const line: Record<string, unknown> = {
    case: name,
    description,
    nbstage_kernels: KERNELS_DESCRIBED[kernels],
    repeat,
    median_ms: Object.fromEntries(tools.map((t) => [t, Math.round(med(t))])),
    min_ms: Object.fromEntries(tools.map((t) => [t, Math.round(min(t))])),
  };
  for (const other of tools.slice(1)) {
    line[`ratio_vs_${other}`] = ratio(med('nbstage'), med(other));
    line[`ratio_vs_${other}_min`] = ratio(min('nbstage'), min(other));
  }
  if (options.target !== undefined) {
    line.target_ratio_vs_nbclient = options.target;
    line.meets_target = ratio(med('nbstage'), med('nbclient')) <= options.target;
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** `--version` of each tool: what its process costs before it does any work. */
async function startup(): Promise<void> {
  const runs: Record<string, [string, string[]]> = {
    nbstage: [process.execPath, [bin, '--version']],
    nbclient: [path.join(venvBin, 'jupyter-execute'), ['--version']],
    papermill: [path.join(venvBin, 'papermill'), ['--version']],
    node_floor: [process.execPath, ['-e', '0']],
    python_floor: [venvPython(root), ['-c', 'pass']],
  };
  const times: Record<string, number[]> = {};
  for (let i = 0; i <= repeat; i++) {
    for (const [tool, [cmd, args]] of Object.entries(runs)) {
      const ms = await timed(cmd, args);
      if (i > 0) {
        // The first round warms the file caches.
        (times[tool] ??= []).push(ms);
      }
    }
  }
  const median_ms = Object.fromEntries(
    Object.entries(times).map(([tool, t]) => [tool, Math.round(median(t))]),
  );
  const min_ms = Object.fromEntries(
    Object.entries(times).map(([tool, t]) => [tool, Math.round(Math.min(...t))]),
  );
  const line = {
    case: 'startup',
    description: '`--version` of each command (node -e 0 and python -c pass: the floors)',
    repeat,
    median_ms,
    min_ms,
    ratio_vs_nbclient: ratio(median_ms.nbstage, median_ms.nbclient),
    ratio_vs_nbclient_min: ratio(min_ms.nbstage, min_ms.nbclient),
    ratio_vs_papermill: ratio(median_ms.nbstage, median_ms.papermill),
    ratio_vs_papermill_min: ratio(min_ms.nbstage, min_ms.papermill),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Per-cell round trip over the kernel websocket: sequential with Nagle on/off, and pipelined. */
async function nodelay(): Promise<void> {
  const cells = 200;
  const result: Record<string, number> = {};
  for (const noDelay of [false, true]) {
    const server = await LocalJupyterServer.start({ tcpNoDelay: noDelay });
    try {
      const kernel = await KernelClient.start(server.endpoint, 'python3');
      try {
        for (let i = 0; i < 20; i++) {
          await kernel.execute('x = 1').done;
        }
        const perCell: number[] = [];
        for (let i = 0; i < cells; i++) {
          const t = process.hrtime.bigint();
          await kernel.execute('x = 1').done;
          perCell.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        const key = noDelay ? 'sequential_nodelay_on' : 'sequential_nodelay_off';
        result[`${key}_p50_ms`] = Number(median(perCell).toFixed(2));
        result[`${key}_p99_ms`] = Number(percentile(perCell, 99).toFixed(2));
        if (noDelay) {
          const t = process.hrtime.bigint();
          const handles = Array.from({ length: cells }, () => kernel.execute('x = 1'));
          await Promise.all(handles.map((h) => h.done));
          result.pipelined_nodelay_on_per_cell_ms = Number(
            (Number(process.hrtime.bigint() - t) / 1e6 / cells).toFixed(2),
          );
        }
      } finally {
        await kernel.shutdown();
      }
    } finally {
      await server.close();
    }
  }
  process.stdout.write(
    `${JSON.stringify({ case: 'nodelay', description: `${cells} trivial cells over the kernel websocket`, ...result })}\n`,
  );
}

/** A service in this process, on a fresh home, with a token; closed by the caller. */
async function benchService(): Promise<{ client: NbstageClient; close: () => Promise<void> }> {
  const token = randomBytes(18).toString('hex');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-home-'));
  const service = await startService({
    home,
    port: 0,
    workers: 2,
    env: { NBSTAGE_ADMIN_TOKEN: token },
    logStream: { write: () => true } as unknown as NodeJS.WritableStream,
  });
  return {
    client: new NbstageClient(service.url, token),
    close: async () => {
      await service.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** POST /runs to the first output event, with a warm kernel. */
async function firstOutput(): Promise<void> {
  const n = Number(process.env.BENCH_FIRST_OUTPUT ?? 40);
  const { client, close } = await benchService();
  const nb = notebook(['print("hello")']);
  const times: number[] = [];
  try {
    for (let i = 0; i < n + 3; i++) {
      // Let the pool start the next warm kernel: this case measures a warm hand-out.
      await pause();
      const t = process.hrtime.bigint();
      const run = await client.createRun({ notebook: nb as never, job: 'bench/first-output' });
      let first = 0;
      await client.stream(run.id, (event) => {
        if (first === 0 && event.type === 'output') {
          first = Number(process.hrtime.bigint() - t) / 1e6;
        }
      });
      if (i >= 3) {
        times.push(first);
      }
    }
  } finally {
    await close();
  }
  process.stdout.write(
    `${JSON.stringify({
      case: 'first-output',
      description: 'POST /api/v1/runs to the first output on the websocket, warm kernel',
      runs: n,
      p50_ms: Number(median(times).toFixed(1)),
      p99_ms: Number(percentile(times, 99).toFixed(1)),
      min_ms: Number(Math.min(...times).toFixed(1)),
    })}\n`,
  );
}

/** 50 ten-cell notebooks at once through the service vs papermill one after another. */
async function burst(): Promise<void> {
  const count = 50;
  const nb = tenCells();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-burst-'));
  const input = path.join(dir, 'ten.ipynb');
  fs.writeFileSync(input, JSON.stringify(nb));
  const { client, close } = await benchService();
  let serviceMs = 0;
  try {
    await pause();
    const t = process.hrtime.bigint();
    const runs = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        client.createRun({ notebook: nb as never, job: 'bench/burst', build: String(i + 1) }),
      ),
    );
    await Promise.all(runs.map((r) => client.stream(r.id, () => undefined)));
    serviceMs = Number(process.hrtime.bigint() - t) / 1e6;
    const states = await Promise.all(runs.map((r) => client.getRun(r.id)));
    const failed = states.filter((r) => r.state !== 'completed');
    if (failed.length > 0) {
      throw new Error(`${failed.length} burst runs did not complete: ${failed[0].state}`);
    }
  } finally {
    await close();
  }
  await pause();
  const t = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const [cmd, args] = command('papermill', input, path.join(dir, `pm-${i}.ipynb`));
    await timed(cmd, args);
  }
  const papermillMs = Number(process.hrtime.bigint() - t) / 1e6;
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `${JSON.stringify({
      case: 'burst',
      description:
        '50 ten-cell notebooks: submitted at once to nbstage serve (2 workers) vs papermill one after another',
      nbstage_ms: Math.round(serviceMs),
      papermill_ms: Math.round(papermillMs),
      ratio_vs_papermill: Number((serviceMs / papermillMs).toFixed(2)),
    })}\n`,
  );
}

async function main(): Promise<void> {
  if (unknownCases.length > 0) {
    throw new Error(`unknown case ${unknownCases.join(', ')} (the cases: ${ALL_CASES})`);
  }
  const tools = [...cases].every((c) => NBSTAGE_ONLY.has(c))
    ? []
    : ['jupyter-execute', 'papermill'];
  if (cases.has('gateway')) {
    tools.push('jupyter-kernelgateway');
  }
  for (const tool of tools) {
    if (!fs.existsSync(path.join(venvBin, tool))) {
      throw new Error(
        `${tool} is missing from the project environment: run \`bash scripts/setup.sh --dev\``,
      );
    }
  }
  const trivial500 = trivialCells(500);
  const ten = tenCells();
  if (cases.has('a')) {
    await compare('a', trivial500, '500 trivial cells, cold', 'direct', { target: 0.9 });
  }
  if (cases.has('b')) {
    await compare('b', ten, '10-cell notebook, cold', 'direct', { target: 0.75 });
  }
  if (cases.has('c')) {
    await compare(
      'c',
      notebook([
        'import sys\nline = "x" * 99 + "\\n"\nblock = line * 10000\nfor _ in range(50):\n    sys.stdout.write(block)',
      ]),
      'one cell printing 50 MB (output limits off: every byte kept, as the others do), cold',
      'direct',
      { nbstageArgs: ['--max-cell-output', '0', '--max-run-output', '0'] },
    );
  }
  if (cases.has('a-shared')) {
    await compare('a-shared', trivial500, '500 trivial cells, shared server', 'shared');
  }
  if (cases.has('b-warm')) {
    await compare('b-warm', ten, '10-cell notebook, shared server', 'shared');
  }
  if (cases.has('b-private')) {
    await compare('b-private', ten, '10-cell notebook, private server per run', 'private');
  }
  if (cases.has('gateway')) {
    const gateway = await startKernelGateway();
    try {
      await compare('gateway', ten, '10-cell notebook on a Jupyter Kernel Gateway', 'gateway', {
        others: ['nbclient'],
        gateway,
      });
    } finally {
      await gateway.close();
    }
  }
  if (cases.has('warm-pool')) {
    process.stdout.write(`${JSON.stringify(await warmPool())}\n`);
  }
  if (cases.has('sandbox')) {
    process.stdout.write(`${JSON.stringify(await sandboxStart())}\n`);
  }
  if (cases.has('startup')) {
    await startup();
  }
  if (cases.has('nodelay')) {
    await nodelay();
  }
  if (cases.has('first-output')) {
    await firstOutput();
  }
  if (cases.has('burst')) {
    await burst();
  }
  if (cases.has('flood')) {
    process.stdout.write(`${JSON.stringify(await flood(process.env.BENCH_FLOOD_BIN ?? bin))}\n`);
  }
  if (cases.has('workspace-bytes')) {
    process.stdout.write(`${JSON.stringify(await workspaceBytes(bin))}\n`);
  }
  if (cases.has('workspace-files')) {
    process.stdout.write(`${JSON.stringify(await workspaceFiles(bin))}\n`);
  }
  if (cases.has('compare')) {
    process.stdout.write(`${JSON.stringify(compareCase(repeat))}\n`);
  }
  if (cases.has('environment')) {
    process.stdout.write(`${JSON.stringify(await environmentCost())}\n`);
  }
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    // Every shared server in the bench's folder: also one another build (BENCH_NBSTAGE_BIN) started.
    await stopSharedServers(runtimeDir);
    fs.rmSync(runtimeDir, { recursive: true, force: true });
  });
