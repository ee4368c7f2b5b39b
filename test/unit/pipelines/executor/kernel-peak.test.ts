/**
 * A cell's peak as its kernel reports it (`kernel-peak.ts`), on scripted fake kernels: only the
 * kernels that measure themselves are asked, each cell's reply brings its own peak, a failed
 * cell's published peak is taken from its outputs, and a cell with neither claims none.
 */
import { executeNotebook } from '../../../../pipelines/executor/executor';
import type { ExecutorKernel } from '../../../../pipelines/executor/kernel';
import {
  PEAK_EXPRESSION,
  PEAK_KEY,
  PEAK_REQUEST,
  RESOURCES_MIME,
  peakOfReply,
} from '../../../../pipelines/executor/kernel-peak';
import type { KernelMessage } from '@jupyterlab/services';
import type { CodeCell, Notebook } from '../../../../pipelines/notebook/model';
import { makeNotebook, type CellSpec } from '../../../helpers/notebooks';
import { FakeKernel, type CellScript } from './fake-kernel';

const peak = (bytes: string): Partial<CellScript> => ({
  expressions: { [PEAK_EXPRESSION]: bytes },
});

const replyWith = (userExpressions: unknown): KernelMessage.IExecuteReplyMsg =>
  ({
    content: { status: 'ok', execution_count: 1, user_expressions: userExpressions },
  }) as unknown as KernelMessage.IExecuteReplyMsg;

const peakOf = (nb: Notebook, index: number): unknown =>
  (nb.cells[index] as CodeCell).metadata.nbstage?.peak_rss_bytes;

async function run(
  cells: (string | CellSpec)[],
  script: Record<string, CellScript>,
  measuring: (kernel: FakeKernel) => ReadonlySet<ExecutorKernel>,
): Promise<{ nb: Notebook; kernel: FakeKernel }> {
  const notebook = makeNotebook(cells);
  const kernel = new FakeKernel('python3', script);
  const result = await executeNotebook({
    notebook,
    cells: notebook.cells.map((_, i) => i),
    kernelFor: () => kernel,
    measuringKernels: measuring(kernel),
    allowErrors: true,
  });
  return { nb: result.notebook, kernel };
}

describe("a kernel's own peak of each cell", () => {
  test('reads the peak of a reply: the repr of an int, nothing else', () => {
    const ok = (text: string): unknown => ({
      [PEAK_KEY]: { status: 'ok', data: { 'text/plain': text }, metadata: {} },
    });
    expect(peakOfReply(replyWith(ok('314572800')))).toBe(314_572_800);
    expect(peakOfReply(replyWith(ok('None')))).toBeNull();
    expect(peakOfReply(replyWith(ok('-1')))).toBeNull();
    expect(peakOfReply(replyWith(ok('1e9')))).toBeNull();
    expect(
      peakOfReply(replyWith({ [PEAK_KEY]: { status: 'error', ename: 'AttributeError' } })),
    ).toBeNull();
    expect(peakOfReply(replyWith({}))).toBeNull();
    expect(peakOfReply(replyWith(undefined))).toBeNull();
    expect(peakOfReply(null)).toBeNull();
  });

  test('records the peak each of five replies brings, each its own', async () => {
    const sizes = ['300000000', '50000000', '250000000', '50000000', '120000000'];
    const cells = sizes.map((_, i) => `c${i}`);
    const script = Object.fromEntries(cells.map((c, i) => [c, peak(sizes[i])]));
    const { nb, kernel } = await run(cells, script, (k) => new Set([k]));
    expect(cells.map((_, i) => peakOf(nb, i))).toEqual(sizes.map(Number));
    expect(kernel.asked).toEqual(cells.map(() => ({ ...PEAK_REQUEST })));
  });

  test("takes a failed cell's peak from the display message it published, not an output", async () => {
    const { nb } = await run(
      ['ok', 'fails', 'after'],
      {
        ok: peak('100000000'),
        fails: {
          outputs: [{ data: { [RESOURCES_MIME]: { peak_rss_bytes: 400_000_000 } } }],
          error: { ename: 'ValueError', evalue: 'no' },
        },
        after: peak('90000000'),
      },
      (k) => new Set([k]),
    );
    expect([0, 1, 2].map((i) => peakOf(nb, i))).toEqual([100_000_000, 400_000_000, 90_000_000]);
    expect((nb.cells[1] as CodeCell).outputs.map((o) => o.output_type)).toEqual(['error']);
  });

  test('claims no peak a reply does not bring, and asks no kernel that does not measure', async () => {
    const measured = await run(['none'], { none: peak('None') }, (k) => new Set([k]));
    expect(peakOf(measured.nb, 0)).toBeUndefined();

    const other = await run(['c0', 'c1'], { c0: peak('1000'), c1: peak('1000') }, () => new Set());
    expect(other.kernel.asked).toEqual([{}, {}]);
    expect([0, 1].map((i) => peakOf(other.nb, i))).toEqual([undefined, undefined]);
  });
});
