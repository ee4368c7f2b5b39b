/**
 * Rebuilds a notebook from a run's events: the notebook of `run-start`, then every output,
 * update, clear and cell end applied in order. Whoever only has the events (the service after a
 * worker died, a browser following a run) gets the same notebook the executor had.
 */
import type { CodeCell, Notebook } from '../notebook/model';
import { cloneNotebook } from '../notebook/model';
import type { RunEvent } from './events';

/** Applies one event to `nb` (in place); returns `nb`, or the run-start notebook for run-start. */
export function applyRunEvent(nb: Notebook | null, event: RunEvent): Notebook | null {
  if (event.type === 'run-start') {
    if (event.notebook === undefined) {
      return nb;
    }
    const fresh = cloneNotebook(event.notebook);
    for (const index of event.cells) {
      const cell = fresh.cells[index];
      if (cell?.cell_type === 'code') {
        cell.outputs = [];
        cell.execution_count = null;
      }
    }
    return fresh;
  }
  if (event.type === 'run-end') {
    // Forwarded run-end events leave the notebook out (it travels once, in the job's result).
    return (event.notebook as Notebook | undefined) ?? nb;
  }
  if (nb === null) {
    return nb;
  }
  const cell = nb.cells[event.index];
  if (cell === undefined || cell.cell_type !== 'code') {
    return nb;
  }
  const code = cell as CodeCell;
  switch (event.type) {
    case 'output': {
      if (event.consoleOnly === true) {
        break;
      }
      const out = event.output;
      const last = code.outputs[code.outputs.length - 1];
      if (
        out.output_type === 'stream' &&
        last?.output_type === 'stream' &&
        last.name === out.name
      ) {
        const text =
          (Array.isArray(last.text) ? last.text.join('') : last.text) +
          (Array.isArray(out.text) ? out.text.join('') : out.text);
        last.text = text;
      } else {
        code.outputs.push(structuredClone(out));
      }
      break;
    }
    case 'output-update':
      if (event.outputIndex < code.outputs.length) {
        code.outputs[event.outputIndex] = structuredClone(event.output);
      }
      break;
    case 'output-clear':
      code.outputs = [];
      break;
    case 'cell-end':
      code.execution_count = event.executionCount;
      code.metadata.nbstage = {
        ...(code.metadata.nbstage ?? {}),
        status: event.status,
        duration_ms: event.durationMs,
      };
      break;
    default:
      break;
  }
  return nb;
}

/** The notebook the events describe (null when they hold no run-start with a notebook). */
export function replayRunEvents(events: Iterable<RunEvent>): Notebook | null {
  let nb: Notebook | null = null;
  for (const event of events) {
    nb = applyRunEvent(nb, event);
  }
  return nb;
}
