/**
 * ZmqKernelProvider under the real runner: `executeRun` on small notebooks (outputs, a failing
 * cell, a cell timeout, a kernel death, a bash notebook) ends exactly as it does on a Jupyter
 * server's kernels; the warm pool hands out a started kernel and close leaves no process; a
 * session is refused as bad usage.
 */
import { JupyterKernelProvider } from '../../../kernels/provider';
import { ZmqKernelProvider } from '../../../kernels/zmq/zmq-provider';
import { UsageError } from '../../../pipelines/errors';
import type { KernelLease, KernelSource } from '../../../pipelines/kernel-source';
import type { Notebook, Output } from '../../../pipelines/notebook/model';
import { executeRun, loadRun, type RunResult, type RunSpec } from '../../../pipelines/runner';
import { useJupyterServer } from '../../helpers/jupyter';
import { makeNotebook, writeNotebook } from '../../helpers/notebooks';
import { descendants, survivors } from '../../helpers/processes';
import { cleanupDirs } from '../../helpers/temp-dirs';

/**
 * A cell's outputs with its streams in one order, stdout's before stderr's: ipykernel does not
 * keep the order of messages on two streams (of 300 runs of `print("hello")` then
 * `print("warn", file=sys.stderr)`, with flush=True or not, some 2-7% arrive stderr first, through
 * jupyter_client alone), so neither provider can. Each stream's own order is kept.
 */
function streamsInOrder(outputs: Output[]): Output[] {
  const rank = (o: Output): number =>
    o.output_type !== 'stream' ? 0 : o.name === 'stdout' ? 0 : 1;
  const streams = outputs.filter((o) => o.output_type === 'stream');
  const sorted = [...streams].sort((a, b) => rank(a) - rank(b));
  return outputs.map((o) => (o.output_type === 'stream' ? (sorted.shift() as Output) : o));
}

/** What a run ended with, without what differs from run to run (times, ids, tracebacks). */
function summary(result: RunResult): unknown {
  return {
    status: result.status,
    error:
      result.error === null
        ? null
        : { code: result.error.code, exit: result.error.exitCode, message: result.error.message },
    kernelsUsable: result.kernelsUsable,
    cells: result.notebook.cells.map((cell) =>
      cell.cell_type !== 'code'
        ? null
        : {
            count: cell.execution_count,
            outputs: streamsInOrder(cell.outputs).map((o) =>
              o.output_type === 'error'
                ? { type: o.output_type, ename: o.ename, evalue: o.evalue }
                : { ...o, metadata: undefined },
            ),
          },
    ),
  };
}

async function run<L extends KernelLease>(
  source: KernelSource<L>,
  nb: Notebook,
  spec: Partial<RunSpec> = {},
): Promise<RunResult> {
  const loaded = await loadRun({ notebookPath: writeNotebook(nb), ...spec });
  return executeRun(loaded, source);
}

describe('executeRun on ZmqKernelProvider, as on a Jupyter server', () => {
  const server = useJupyterServer();
  const zmq = new ZmqKernelProvider();
  let jupyter: JupyterKernelProvider;
  beforeAll(() => {
    jupyter = new JupyterKernelProvider(server().endpoint);
  });
  afterAll(async () => {
    await Promise.all([zmq.close(), jupyter.close()]);
    cleanupDirs();
  });

  async function both(nb: Notebook, spec: Partial<RunSpec> = {}): Promise<[unknown, unknown]> {
    const [a, b] = await Promise.all([run(zmq, nb, spec), run(jupyter, nb, spec)]);
    return [summary(a), summary(b)];
  }

  it('outputs: streams, display_data, execute_result', async () => {
    const [onZmq, onServer] = await both(
      makeNotebook([
        'import sys\nprint("hello")\nprint("warn", file=sys.stderr)',
        'from IPython.display import display, Markdown\ndisplay(Markdown("**m**"))',
        '6*7',
        'import os\nprint(os.path.exists("nb.ipynb"))',
      ]),
    );
    expect(onZmq).toEqual(onServer);
    expect(onZmq).toMatchObject({ status: 'completed', error: null });
  });

  it('a failing cell: exit 1, the cells after it not run', async () => {
    const [onZmq, onServer] = await both(makeNotebook(['x = 1', '1/0', 'print("never")']));
    expect(onZmq).toEqual(onServer);
    expect(onZmq).toMatchObject({ status: 'failed', error: { exit: 1 } });
  });

  it('a cell timeout: exit 3', async () => {
    const [onZmq, onServer] = await both(makeNotebook(['import time\ntime.sleep(30)', '1']), {
      cellTimeoutS: 1,
    });
    expect(onZmq).toEqual(onServer);
    expect(onZmq).toMatchObject({ status: 'timeout', error: { exit: 3 } });
  });

  it('a kernel death: exit 4', async () => {
    // The cell dies a moment after it starts, as real kernels do: a kill within microseconds
    // of the previous reply can take that reply with it, unsent (see cli/run.test.ts).
    const [onZmq, onServer] = await both(
      makeNotebook(['print("a")', 'import os, time\ntime.sleep(0.2)\nos._exit(1)']),
    );
    // The same, but a kernel nbstage launched itself also says how its process ended.
    expect(onServer).toMatchObject({ error: { message: 'kernel python3 died in cell 1' } });
    const server = onServer as { error: { message: string } };
    expect(onZmq).toEqual({
      ...server,
      error: { ...server.error, message: 'kernel python3 died in cell 1 (exited with code 1)' },
    });
    expect(onZmq).toMatchObject({ status: 'kernel_died', error: { exit: 4 } });
  });

  it("sets the spec's kernel variables in a warm kernel before the first cell", async () => {
    const result = await run(
      zmq,
      makeNotebook(['import os\nprint(os.environ.get("CUDA_VISIBLE_DEVICES"))']),
      { kernelVariables: { CUDA_VISIBLE_DEVICES: '1' } },
    );
    expect(result.status).toBe('completed');
    expect(JSON.stringify(result.notebook.cells[0])).toContain('"1\\n"');
  });

  it('a bash notebook', async () => {
    const [onZmq, onServer] = await both(makeNotebook(['echo one', 'false', 'echo two'], 'bash'));
    expect(onZmq).toEqual(onServer);
  });
});

describe('ZmqKernelProvider', () => {
  afterAll(() => cleanupDirs());

  it('offers the kernelspecs found, python3 by default; an unknown one is exit 2', async () => {
    const provider = new ZmqKernelProvider();
    const specs = await provider.kernelSpecs();
    expect(specs.default).toBe('python3');
    expect(specs.specs.map((s) => s.name)).toEqual(expect.arrayContaining(['python3', 'bash']));
    await expect(provider.acquire('nope')).rejects.toMatchObject({ exitCode: 2 });
    await provider.close();
  });

  it('refuses a session as bad usage (no kernel outlives its run)', async () => {
    const provider = new ZmqKernelProvider();
    const err = await provider.acquire('python3', { session: 's1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    await provider.close();
  });

  it('warm pool: hands out the prewarmed kernel, starts the next; close leaves no process', async () => {
    const provider = new ZmqKernelProvider({ poolSize: 1 });
    const before = new Set(descendants(process.pid));
    const ours = (): number[] => descendants(process.pid).filter((p) => !before.has(p));
    provider.prewarm('python3');
    const first = await provider.acquire('python3');
    expect((await first.kernel.execute('1').done).content.status).toBe('ok');
    const second = await provider.acquire('python3');
    expect(second.kernel).not.toBe(first.kernel);
    await provider.release(first, true);
    const pids = ours();
    await provider.close();
    expect(provider.health().ready).toBe(false);
    expect(second.kernel.dead).toBeNull();
    expect(await survivors(pids, 5000)).toEqual([]);
  });
});
