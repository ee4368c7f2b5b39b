/**
 * Secrets in a run on a scripted kernel: printed in pieces (two halves, one character at a time,
 * half to stdout and half to stderr), the held-back start of a secret let out when a cell ends
 * however it ends (error, timeout, death, cancel), and secrets in what the run did not print:
 * sources (an injected parameter), tags, error names, metric names and the run's error. Every
 * check looks for the secret and for the mask where it was; a failure shows text reversed, so
 * the test itself never prints a secret as it is.
 */
import type { OutputEvent, RunEvent } from '../../../../pipelines/executor/events';
import { executeNotebook, type ExecuteResult } from '../../../../pipelines/executor/executor';
import { maskError } from '../../../../pipelines/executor/outcome';
import { METRIC_MIME } from '../../../../pipelines/notebook/metric';
import type { CodeCell, Notebook } from '../../../../pipelines/notebook/model';
import { MASK, Masker } from '../../../../pipelines/secrets/mask';
import { makeNotebook, type CellSpec } from '../../../helpers/notebooks';
import { FakeKernel, type CellScript, type FakeOutput } from './fake-kernel';

const SECRET = 'Zq7-s3cret-value';

interface Run {
  result: ExecuteResult;
  events: RunEvent[];
  kernel: FakeKernel;
}

async function run(
  cells: (string | CellSpec)[],
  script: Record<string, CellScript>,
  options: Partial<Parameters<typeof executeNotebook>[0]> = {},
): Promise<Run> {
  const notebook = makeNotebook(cells);
  const kernel = new FakeKernel('python3', script);
  const events: RunEvent[] = [];
  const result = await executeNotebook({
    notebook,
    cells: notebook.cells.map((_, i) => i),
    kernelFor: () => kernel,
    interruptGraceMs: 50,
    masker: new Masker([SECRET]),
    listeners: [(e) => void events.push(e)],
    ...options,
  });
  return { result, events, kernel };
}

/** Reversed, so that what a failing expectation prints is never the secret as it is. */
function reversed(text: string): string {
  return [...text].reverse().join('');
}

/** The secret's presence, as a failing expectation may show it. */
function leaks(text: string): { secret: boolean; reversedText: string } {
  return { secret: text.includes(SECRET), reversedText: reversed(text) };
}

function expectMasked(text: string, masks = 1): void {
  expect(leaks(text)).toEqual({ secret: false, reversedText: reversed(text) });
  expect(text.split(MASK).length - 1).toBeGreaterThanOrEqual(masks);
}

/** The stream text of a cell's output events, joined as the console shows it. */
function streamed(events: RunEvent[], index: number): string {
  return events
    .filter((e): e is OutputEvent => e.type === 'output' && e.index === index)
    .map((e) => (e.output.output_type === 'stream' ? [e.output.text].flat().join('') : ''))
    .join('');
}

function outputText(nb: Notebook, index: number): string {
  return JSON.stringify((nb.cells[index] as CodeCell).outputs);
}

function chars(text: string, name: 'stdout' | 'stderr' = 'stdout'): FakeOutput[] {
  return [...text].map((c) => ({ stream: c, name }));
}

describe('masking on a scripted kernel', () => {
  test('a secret printed in halves, one character at a time, or across stdout and stderr', async () => {
    const half = 7;
    const { result, events } = await run(['halves', 'chars', 'across'], {
      halves: {
        outputs: [
          { stream: `key ${SECRET.slice(0, half)}` },
          { stream: `${SECRET.slice(half)}\n` },
        ],
      },
      chars: { outputs: [{ stream: 'key ' }, ...chars(SECRET), { stream: '\n' }] },
      across: {
        outputs: [
          { stream: `key ${SECRET.slice(0, half)}`, name: 'stdout' },
          { stream: `${SECRET.slice(half)} end\n`, name: 'stderr' },
        ],
      },
    });
    expect(result.status).toBe('completed');
    expect(reversed(streamed(events, 0))).toBe(reversed(`key ${MASK}\n`));
    expect(reversed(streamed(events, 1))).toBe(reversed(`key ${MASK}\n`));
    expect(reversed(streamed(events, 2))).toBe(reversed(`key ${MASK} end\n`));
    expectMasked(JSON.stringify(events), 3);
    for (const index of [0, 1, 2]) {
      expectMasked(outputText(result.notebook, index));
    }
    // Across streams the mask is shown where the secret started.
    const across = (result.notebook.cells[2] as CodeCell).outputs.map((o) =>
      o.output_type === 'stream' ? [o.name, [o.text].flat().join('')] : [o.output_type],
    );
    expect(across).toEqual([
      ['stdout', `key ${MASK}`],
      ['stderr', ' end\n'],
    ]);
  });

  test('what could start a secret is held back one chunk at most, and let out when the cell ends', async () => {
    const { events } = await run(['a'], {
      a: { outputs: [{ stream: 'loss Zq7' }, { stream: '-x\n' }, { stream: 'tail Zq' }] },
    });
    const texts = events
      .filter((e): e is OutputEvent => e.type === 'output')
      .map((e) => [e.output.output_type === 'stream' ? e.output.text : ''].flat().join(''));
    expect(texts).toEqual(['loss ', 'Zq7-x\n', 'tail ', 'Zq']);
    const end = events.findIndex((e) => e.type === 'cell-end');
    const last = events.map((e) => e.type).lastIndexOf('output');
    expect(last).toBeLessThan(end);
  });

  test.each([
    ['an error', { error: { ename: 'ValueError', evalue: 'bad' } }, 'failed'],
    ['a cell timeout', { hang: true, ignoresInterrupt: true }, 'timeout'],
    ['a kernel death', { dieWith: 'dead' as const }, 'kernel_died'],
  ])(
    'the held-back start of a secret is shown, masked, when a cell ends in %s',
    async (_, how, status) => {
      const { result, events } = await run(
        ['a'],
        { a: { outputs: [{ stream: 'half ' }, { stream: SECRET.slice(0, 5) }], ...how } },
        { cellTimeoutS: 0.2 },
      );
      expect(result.status).toBe(status);
      expect(reversed(streamed(events, 0))).toBe(reversed(`half ${SECRET.slice(0, 5)}`));
      const end = events.findIndex((e) => e.type === 'cell-end');
      expect(events.map((e) => e.type).lastIndexOf('output')).toBeLessThan(end);
      expect(outputText(result.notebook, 0)).toContain(`half ${SECRET.slice(0, 5)}`);
    },
  );

  test('the held-back start of a secret is shown when the run is cancelled', async () => {
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const { result } = await run(
      ['a'],
      { a: { outputs: [{ stream: 'half ' }, { stream: SECRET.slice(0, 5) }], hang: true } },
      {
        signal: controller.signal,
        listeners: [
          (e) => {
            events.push(e);
            if (e.type === 'output') {
              controller.abort();
            }
          },
        ],
      },
    );
    expect(result.status).toBe('cancelled');
    expect(reversed(streamed(events, 0))).toBe(reversed(`half ${SECRET.slice(0, 5)}`));
  });

  test('sources, tags and metadata are masked in run-start and the executed notebook, not for the kernel', async () => {
    const injected = `token = "${SECRET}"`;
    const nb = [
      { source: injected, tags: ['injected-parameters', `note-${SECRET}`] },
      { source: 'print(token)' },
    ];
    const notebook = makeNotebook(nb);
    notebook.metadata.custom = { owner: SECRET };
    const { result, events, kernel } = await run(
      [],
      { 'print(token)': { outputs: [{ stream: `${SECRET}\n` }] } },
      {
        notebook,
        cells: [0, 1],
      },
    );
    expect(result.status).toBe('completed');
    // The kernel ran the cell as written.
    expect(kernel.log.some((l) => l === `send ${injected}`)).toBe(true);
    const start = events.find((e) => e.type === 'run-start');
    expectMasked(JSON.stringify(start), 3);
    expectMasked(JSON.stringify(result.notebook), 4);
    expect(result.notebook.cells[0].source).toEqual(`token = "${MASK}"`);
    expect(result.notebook.cells[0].metadata.tags).toEqual(['injected-parameters', `note-${MASK}`]);
    expect(result.notebook.metadata.custom).toEqual({ owner: MASK });
    // The caller's notebook is left as it was.
    expect(notebook.cells[0].source).toBe(injected);
  });

  test('masking never changes what a tag does: a secret equal to part of a tag', async () => {
    const { result, kernel } = await run(
      [{ source: 'a', tags: ['skip-execution'] }, 'b'],
      {},
      { masker: new Masker(['skip']) },
    );
    expect(kernel.log.some((l) => l === 'send a')).toBe(false);
    expect(result.notebook.cells[0].metadata).toMatchObject({
      tags: [`${MASK}-execution`],
      nbstage: { status: 'skipped' },
    });
  });

  test('an error named and valued by the secret, and the run error, are masked', async () => {
    const { result, events } = await run(['a'], {
      a: { error: { ename: SECRET, evalue: `got ${SECRET}` } },
    });
    expect(result.status).toBe('failed');
    expect(result.error).not.toBeNull();
    expectMasked(result.error?.message ?? '', 2);
    expectMasked(result.error?.stack ?? '', 2);
    expect(result.error).toMatchObject({ ename: MASK, evalue: `got ${MASK}` });
    const end = events.find((e) => e.type === 'cell-end');
    expectMasked(JSON.stringify(end), 2);
    expectMasked(JSON.stringify(result.notebook), 3);
  });

  test('a metric named by the secret is recorded masked', async () => {
    const { result, events } = await run(['a'], {
      a: {
        outputs: [
          { data: { [METRIC_MIME]: { name: SECRET, value: 0.5 }, 'text/plain': `${SECRET}=0.5` } },
          { data: { [METRIC_MIME]: { name: 'acc', value: SECRET } } },
        ],
      },
    });
    expect(result.metrics).toEqual({ [MASK]: 0.5, acc: MASK });
    expect(result.notebook.metadata.nbstage?.metrics).toEqual({ [MASK]: 0.5, acc: MASK });
    expectMasked(JSON.stringify(events), 4);
  });
});

describe('maskError', () => {
  test('masks the message and stack in place, also of an error whose message is a getter', () => {
    const masker = new Masker([SECRET]);
    const plain = new Error(`no ${SECRET}`);
    maskError(plain, masker);
    expect(plain.message).toBe(`no ${MASK}`);
    expect(reversed(plain.stack ?? '')).not.toContain(reversed(SECRET));
    const dom = new DOMException(`aborted ${SECRET}`, 'AbortError');
    maskError(dom, masker);
    expect([dom.message, dom.name]).toEqual([`aborted ${MASK}`, 'AbortError']);
    const untouched = new DOMException('aborted', 'AbortError');
    maskError(untouched, masker);
    expect(Object.getOwnPropertyNames(untouched)).not.toContain('message');
  });
});
