/**
 * The `compare` case of `npm run bench`: how long nbstage's baseline check takes to compare two
 * executed 1,000-cell notebooks (issue: under 1 s), in this process, after the modules are
 * loaded. The cells hold what ML notebooks print: text with numbers and noise (addresses, times,
 * a tqdm bar), an HTML table, JSON, a 64x48 PNG, a warning beside a metric (which gates judge,
 * so it is skipped); the actual notebook differs from the baseline by numeric noise within the
 * tolerance in every cell and by a real change in ten of them, so every cell is normalized, tokenized and compared (images decoded) and the
 * diffs are written. `first` is the first comparison (cold code), `median` over BENCH_REPEAT.
 */
import { PNG } from 'pngjs';
import { compareNotebooks } from '../pipelines/checks';
import type { CodeCell, Notebook, Output } from '../pipelines/notebook/model';
import { median, msSince } from './bench-common';

const CELLS = 1000;
const CHANGED = 10;

/** A 64x48 PNG whose pixels depend on `seed`; `changed`: with a white 16x16 block. */
function png(seed: number, changed: boolean): string {
  const image = new PNG({ width: 64, height: 48 });
  for (let i = 0; i < image.data.length; i += 4) {
    const pixel = i / 4;
    const inBlock = changed && pixel % 64 < 16 && Math.floor(pixel / 64) < 16;
    image.data[i] = inBlock ? 255 : (i + seed) % 256;
    image.data[i + 1] = inBlock ? 255 : (i >> 3) % 256;
    image.data[i + 2] = inBlock ? 255 : 128;
    image.data[i + 3] = 255;
  }
  return PNG.sync.write(image).toString('base64');
}

/** The outputs of cell `i`: `noise` shifts every number by a relative 1e-9, `changed` really. */
function outputs(i: number, noise: boolean, changed: boolean): Output[] {
  const x = (i + 1) * 0.123456789 * (noise ? 1 + 1e-9 : 1) + (changed ? 1 : 0);
  const at = noise ? '0x7f3a5c2e1d40' : '0x7f11aa2b3c50';
  const when = noise ? '2026-12-02 13:01:02.123456' : '2026-12-01 09:10:11.654321';
  const text =
    `epoch ${i} loss=${x.toFixed(9)} acc=${(x / 10).toFixed(9)}\n` +
    `<model.Net object at ${at}> saved ${when}\n` +
    `100%|██████████| 50/50 [00:0${noise ? 2 : 3}<00:00, ${noise ? 24.1 : 23.7}it/s]\n`;
  switch (i % 5) {
    case 0:
      return [{ output_type: 'stream', name: 'stdout', text }];
    case 1:
      return [
        {
          output_type: 'execute_result',
          execution_count: i + 1,
          metadata: {},
          data: {
            'text/plain': `   a   b\n0  ${x}  ${x * 2}`,
            'text/html': `<table><tr><td>${x}</td><td>${x * 2}</td></tr></table>`,
          },
        },
      ];
    case 2:
      return [
        {
          output_type: 'display_data',
          metadata: {},
          data: {
            'application/json': { loss: x, epochs: [1, 2, 3] },
            'text/plain': `{'loss': ${x}}`,
          },
        },
      ];
    case 3:
      return [
        {
          output_type: 'display_data',
          metadata: {},
          data: { 'image/png': png(i, changed), 'text/plain': '<Figure size 640x480>' },
        },
      ];
    default:
      return [
        { output_type: 'stream', name: 'stderr', text: `warning at ${when}: grad norm ${x}\n` },
        {
          output_type: 'display_data',
          metadata: {},
          data: { 'application/vnd.nbstage.metric+json': { name: `m${i}`, value: x } },
        },
      ];
  }
}

function notebook(noise: boolean): Notebook {
  const cells: CodeCell[] = Array.from({ length: CELLS }, (_, i) => ({
    cell_type: 'code',
    id: `cell-${i}`,
    metadata: {},
    source: `step(${i})`,
    execution_count: i + 1,
    // Ten real changes, two of each kind of output.
    outputs: outputs(i, noise, noise && i % 100 === 7 + (Math.floor(i / 100) % 5)),
  }));
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells,
  };
}

/** The `compare` case: its JSON line. */
export function compareCase(repeat: number): Record<string, unknown> {
  const baseline = notebook(false);
  const actual = notebook(true);
  const times: number[] = [];
  let differs = 0;
  for (let i = 0; i < repeat; i++) {
    const start = process.hrtime.bigint();
    const checks = compareNotebooks(actual, baseline, { rtol: 1e-6 });
    times.push(msSince(start));
    differs = checks.filter((c) => c.status === 'differs').length;
  }
  if (differs !== CHANGED) {
    throw new Error(`compare: ${differs} cells differ, ${CHANGED} were changed`);
  }
  const ms = median(times);
  return {
    case: 'compare',
    description: `compareNotebooks of two executed ${CELLS}-cell notebooks (text, HTML, JSON, PNG, metrics; noise in every cell, ${CHANGED} real changes)`,
    repeat,
    first_ms: Math.round(times[0]),
    median_ms: Math.round(ms),
    differs,
    target_ms: 1000,
    meets_target: ms < 1000,
  };
}
