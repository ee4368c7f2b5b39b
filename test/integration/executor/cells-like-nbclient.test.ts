/**
 * Cells as nbclient runs them, on real kernels: an empty code cell is never sent (its execution
 * count stays null and it has no run status), and a cell's duration is the kernel's own busy to
 * idle span from its message dates, so nothing that happens outside the kernel (its start, the
 * transport, a slow listener) is charged to a cell.
 */
import { KernelClient } from '../../../kernels/kernel-client';
import { executeNotebook } from '../../../pipelines/executor/executor';
import type { RunEvent } from '../../../pipelines/executor/events';
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';
import { renderJUnit } from '../../../pipelines/reports/junit';
import { useJupyterServer } from '../../helpers/jupyter';
import { makeNotebook } from '../../helpers/notebooks';

/** Microseconds since the epoch of an nbclient-style timestamp (`...T12:00:00.123456Z`). */
function micros(iso: unknown): number {
  const match = /^(.*T\d\d:\d\d:\d\d)\.(\d{6})Z$/.exec(String(iso));
  if (match === null) {
    throw new Error(`not a kernel timestamp with microseconds: ${String(iso)}`);
  }
  return Date.parse(`${match[1]}Z`) * 1000 + Number(match[2]);
}

function code(nb: Notebook, index: number): CodeCell {
  const cell = nb.cells[index];
  if (cell.cell_type !== 'code') {
    throw new Error(`cell ${index} is not code`);
  }
  return cell;
}

describe('the executor runs cells like nbclient', () => {
  const server = useJupyterServer();

  it("charges a fresh kernel's first cell only the kernel's busy -> idle span", async () => {
    const kernel = await KernelClient.start(server().endpoint, 'python3');
    const events: RunEvent[] = [];
    try {
      const nb = makeNotebook(['print("start")', 'print("next")']);
      const result = await executeNotebook({
        notebook: nb,
        cells: [0, 1],
        kernelFor: () => kernel,
        listeners: [
          (event) => {
            events.push(event);
            if (event.type === 'cell-start' && event.index === 0) {
              // Node is busy elsewhere for a second while the kernel runs the cell: the local
              // clock would charge that second to the cell, the kernel's does not.
              const until = Date.now() + 1000;
              while (Date.now() < until) {
                // busy wait
              }
            }
          },
        ],
      });
      expect(result.status).toBe('completed');
      for (const index of [0, 1]) {
        const cell = code(result.notebook, index);
        const execution = cell.metadata.execution as Record<string, unknown>;
        const busy = micros(execution['iopub.status.busy']);
        const idle = micros(execution['iopub.status.idle']);
        expect(micros(execution['iopub.execute_input'])).toBeGreaterThanOrEqual(busy);
        expect(micros(execution['shell.execute_reply'])).toBeLessThanOrEqual(idle);
        const span = Math.round((idle - busy) / 1000);
        const meta = cell.metadata.nbstage as { duration_ms: number };
        expect(meta.duration_ms).toBe(span);
        const end = events.find((e) => e.type === 'cell-end' && e.index === index);
        expect(end?.type === 'cell-end' && end.durationMs).toBe(span);
      }
      const first = (code(result.notebook, 0).metadata.nbstage as { duration_ms: number })
        .duration_ms;
      expect(first).toBeLessThan(1000);
      const junit = renderJUnit(result.notebook, { suiteName: 's', notebookName: 'nb.ipynb' });
      expect(junit).toContain(
        `name="cell 0: print(&quot;start&quot;)" time="${(first / 1000).toFixed(3)}"`,
      );
    } finally {
      await kernel.shutdown();
    }
  });

  it('never sends an empty or whitespace-only code cell; its execution count stays null', async () => {
    const kernel = await KernelClient.start(server().endpoint, 'python3');
    try {
      const nb = makeNotebook(['"a"', '', ' \n\t\n', '"b"']);
      // A stale count and output from an earlier run of the empty cell are not kept.
      Object.assign(code(nb, 1), {
        execution_count: 7,
        outputs: [{ output_type: 'stream', name: 'stdout', text: 'old\n' }],
      });
      const events: RunEvent[] = [];
      const result = await executeNotebook({
        notebook: nb,
        cells: [0, 1, 2, 3],
        kernelFor: () => kernel,
        listeners: [(event) => void events.push(event)],
      });
      expect(result.status).toBe('completed');
      const out = result.notebook;
      expect([0, 1, 2, 3].map((i) => code(out, i).execution_count)).toEqual([1, null, null, 2]);
      for (const index of [1, 2]) {
        expect(code(out, index).outputs).toEqual([]);
        expect(code(out, index).metadata.nbstage).toBeUndefined();
        expect(code(out, index).metadata.execution).toBeUndefined();
      }
      const start = events.find((e) => e.type === 'run-start');
      expect(start?.type === 'run-start' && start.cells).toEqual([0, 3]);
      const ended = events.flatMap((e) => (e.type === 'cell-end' ? [e.index] : []));
      expect(ended).toEqual([0, 3]);
      // JUnit lists the cells that ran, like the console.
      const junit = renderJUnit(out, { suiteName: 's', notebookName: 'nb.ipynb' });
      expect(junit.match(/<testcase /g)).toHaveLength(2);
    } finally {
      await kernel.shutdown();
    }
  });
});
