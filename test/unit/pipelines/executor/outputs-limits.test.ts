import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { KernelMessage } from '@jupyterlab/services';
import type { OutputEvent, RunEvent } from '../../../../pipelines/executor/events';
import { OutputCollector } from '../../../../pipelines/executor/outputs';
import type { OutputLimits } from '../../../../pipelines/executor/output-limits';
import { parseSize, resolveOutputLimits } from '../../../../pipelines/executor/output-limits';
import type { CodeCell } from '../../../../pipelines/notebook/model';
import { Masker } from '../../../../pipelines/secrets/mask';

function stream(text: string, name: 'stdout' | 'stderr' = 'stdout'): KernelMessage.IIOPubMessage {
  return {
    header: { msg_type: 'stream' },
    content: { name, text },
  } as unknown as KernelMessage.IIOPubMessage;
}

function display(text: string): KernelMessage.IIOPubMessage {
  return {
    header: { msg_type: 'display_data' },
    content: { data: { 'text/plain': text }, metadata: {} },
  } as unknown as KernelMessage.IIOPubMessage;
}

function codeCell(): CodeCell {
  return { cell_type: 'code', source: '', metadata: {}, execution_count: null, outputs: [] };
}

function textOf(cell: CodeCell): string {
  return cell.outputs
    .map((o) =>
      o.output_type === 'stream' ? (Array.isArray(o.text) ? o.text.join('') : o.text) : '',
    )
    .join('');
}

function setup(limits: Partial<OutputLimits>, secrets: string[] = [], dir: string | null = null) {
  const events: RunEvent[] = [];
  const collector = new OutputCollector('run', (e) => events.push(e), {
    masker: new Masker(secrets),
    limits: { cellBytes: 0, runBytes: 0, fullOutputBytes: 0, ...limits },
    fullOutputDir: dir,
  });
  const outputs = (): OutputEvent[] => events.filter((e): e is OutputEvent => e.type === 'output');
  return { collector, events, outputs };
}

describe('output limits', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `test-${process.pid}-limits-`));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps a cell up to its limit, then a marker, and the console gets the rest', async () => {
    const { collector, outputs } = setup({ cellBytes: 100, runBytes: 1000 }, [], dir);
    const cell = codeCell();
    for (let i = 0; i < 10; i++) {
      collector.handle(0, cell, stream(`${String(i).repeat(29)}\n`));
    }
    const info = collector.endCell(0);
    await collector.close();
    const kept = textOf(cell);
    expect(
      kept.startsWith(
        '0'.repeat(29) + '\n' + '1'.repeat(29) + '\n' + '2'.repeat(29) + '\n' + '3'.repeat(10),
      ),
    ).toBe(true);
    expect(kept).toMatch(
      /output truncated: cell 0 wrote more than 100 B, the per-cell output limit/,
    );
    expect(kept).toMatch(/--max-cell-output SIZE/);
    expect(kept).toMatch(/artifact nbstage-output\/cell-0\.txt\.gz/);
    expect(kept).not.toMatch(/9{29}/);
    // The console saw everything, in order (kept, then console-only).
    const consoleText = outputs()
      .filter((e) => !/nbstage:/.test(String(e.output.output_type === 'stream' && e.output.text)))
      .map((e) => (e.output.output_type === 'stream' ? e.output.text : ''))
      .join('');
    expect(consoleText).toBe(
      Array.from({ length: 10 }, (_, i) => `${String(i).repeat(29)}\n`).join(''),
    );
    expect(outputs().some((e) => e.consoleOnly === true)).toBe(true);
    expect(info).toEqual({
      truncated: 'cell',
      total_bytes: 300,
      kept_bytes: expect.any(Number),
      full_output: 'nbstage-output/cell-0.txt.gz',
    });
    const full = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'cell-0.txt.gz'))).toString('utf8');
    expect(full).toBe(Array.from({ length: 10 }, (_, i) => `${String(i).repeat(29)}\n`).join(''));
  });

  it('stops streaming at the run limit, with one marker per later cell', async () => {
    const { collector, outputs } = setup({ cellBytes: 0, runBytes: 50 }, [], dir);
    const a = codeCell();
    const b = codeCell();
    collector.handle(0, a, stream('x'.repeat(40)));
    collector.handle(0, a, stream('y'.repeat(40)));
    collector.handle(0, a, stream('z'.repeat(40)));
    collector.endCell(0);
    collector.handle(1, b, stream('late output'));
    collector.handle(1, b, display('a table'));
    collector.endCell(1);
    await collector.close();
    expect(textOf(a)).toMatch(
      /^x{40}y{10}\n\[nbstage: output truncated: the run wrote more than 50 B/,
    );
    expect(textOf(a)).toMatch(/--max-run-output SIZE/);
    expect(textOf(b)).toMatch(
      /^\[nbstage: output of cell 1 not kept: the run already wrote more than 50 B/,
    );
    expect(b.outputs).toHaveLength(1);
    expect(outputs().every((e) => e.consoleOnly !== true)).toBe(true);
    const fullB = zlib
      .gunzipSync(fs.readFileSync(path.join(dir, 'cell-1.txt.gz')))
      .toString('utf8');
    expect(fullB).toBe('late output\na table\n');
  });

  it('masks secrets split across chunks in the notebook, the events and the full output', async () => {
    const { collector, outputs } = setup({ cellBytes: 20, runBytes: 0 }, ['hunter2'], dir);
    const cell = codeCell();
    collector.handle(0, cell, stream('pw=hun'));
    collector.handle(0, cell, stream('ter2 and more text that is over the limit: hunt'));
    collector.handle(0, cell, stream('er2\n'));
    collector.endCell(0);
    await collector.close();
    const all = JSON.stringify(outputs()) + JSON.stringify(cell);
    expect(all).not.toMatch(/hunter2/);
    expect(textOf(cell)).toMatch(/^pw=\*\*\*\* and more te/);
    const full = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'cell-0.txt.gz'))).toString('utf8');
    expect(full).toBe('pw=**** and more text that is over the limit: ****\n');
  });

  it('keeps everything with no limits, and writes no file', async () => {
    const { collector } = setup({}, [], dir);
    const cell = codeCell();
    collector.handle(0, cell, stream('a'.repeat(10_000)));
    expect(collector.endCell(0)).toBeNull();
    await collector.close();
    expect(textOf(cell)).toBe('a'.repeat(10_000));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('reads sizes and the environment', () => {
    expect(parseSize('4MiB', 'x')).toBe(4 * 1024 * 1024);
    expect(parseSize('512k', 'x')).toBe(512 * 1024);
    expect(parseSize('2 MB', 'x')).toBe(2_000_000);
    expect(parseSize('0', 'x')).toBe(0);
    expect(() => parseSize('lots', '--max-cell-output')).toThrow(
      /--max-cell-output: "lots" is not a size/,
    );
    expect(resolveOutputLimits({}, { NBSTAGE_MAX_CELL_OUTPUT: '1k' }).cellBytes).toBe(1024);
    expect(resolveOutputLimits({ cellBytes: 5 }, { NBSTAGE_MAX_CELL_OUTPUT: '1k' }).cellBytes).toBe(
      5,
    );
    expect(resolveOutputLimits({}, {}).runBytes).toBe(32 * 1024 * 1024);
  });
});
