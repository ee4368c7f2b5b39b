/**
 * Each cell's peak resident memory as a real ipykernel nbstage launched measures it itself and
 * sends it back (`pipelines/executor/kernel-peak.ts`): in the reply of a cell that succeeded, in
 * a display message (never an output) for one that failed. Five cells, each with a peak of its
 * own: a spike the kernel's high-water mark holds to the byte, small cells, a child process
 * alive at the cell's end, a failed cell.
 */
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';
import * as notebooks from '../../helpers/notebooks';

const { cleanupDirs, makeNotebook, readJson, runCli, writeNotebook } = notebooks;

const MB = 1_000_000;

/** Python that prints the kernel's own high-water mark, in bytes. */
const PRINT_HWM =
  'import re\n' +
  'print(int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) * 1024)';

const peakOf = (nb: Notebook, index: number): number =>
  nb.cells[index].metadata.nbstage?.peak_rss_bytes as number;

/** The number the cell printed (its stdout). */
function printed(nb: Notebook, index: number): number {
  const stream = (nb.cells[index] as CodeCell).outputs.find((o) => o.output_type === 'stream');
  const text = stream?.output_type === 'stream' ? stream.text : '';
  return Number((Array.isArray(text) ? text.join('') : text).trim());
}

describe('the peak of every cell, from the kernel itself', () => {
  afterAll(cleanupDirs);

  it('records five cells, each its own peak: a spike, small cells, a child, a failure', async () => {
    const file = writeNotebook(
      makeNotebook([
        `x = b"\\x01" * 300_000_000\ndel x\n${PRINT_HWM}`,
        'y = [1, 2, 3]',
        'import subprocess, sys\n' +
          'child = subprocess.Popen([sys.executable, "-c", "import sys; x = b\\"\\\\x01\\" * ' +
          '200_000_000; print(flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, ' +
          'stdout=subprocess.PIPE, text=True)\nchild.stdout.readline()',
        {
          source: `child.communicate("")\nx = b"\\x01" * 250_000_000\ndel x\n${PRINT_HWM}\nraise ValueError("after its peak")`,
          tags: ['raises-exception'],
        },
        'z = 2',
      ]),
    );
    const res = await runCli(['run', '--no-progress', file], { env: { NBSTAGE_JUPYTER_URL: '' } });
    expect(res.code).toBe(0);
    const nb = readJson<Notebook>(file.replace(/\.ipynb$/, '.executed.ipynb'));

    // The kernel's mark after the spike, read again as the cell ended: the same to a few pages.
    expect(printed(nb, 0)).toBeGreaterThanOrEqual(300 * MB);
    expect(peakOf(nb, 0) - printed(nb, 0)).toBeGreaterThanOrEqual(0);
    expect(peakOf(nb, 0) - printed(nb, 0)).toBeLessThan(8 * MB);
    expect(peakOf(nb, 1)).toBeLessThan(150 * MB);
    // The child holds 200 MB as the cell ends: its mark counts; the spike of cell 0 does not.
    expect(peakOf(nb, 2)).toBeGreaterThanOrEqual(200 * MB);
    expect(peakOf(nb, 2)).toBeLessThan(300 * MB);
    // Failed: published, not in the reply, and not an output; the child it ended does not count.
    expect(printed(nb, 3)).toBeGreaterThanOrEqual(250 * MB);
    expect(peakOf(nb, 3) - printed(nb, 3)).toBeGreaterThanOrEqual(0);
    expect(peakOf(nb, 3) - printed(nb, 3)).toBeLessThan(8 * MB);
    expect((nb.cells[3] as CodeCell).outputs.map((o) => o.output_type)).toEqual([
      'stream',
      'error',
    ]);
    expect(peakOf(nb, 4)).toBeLessThan(150 * MB);
  });
});
