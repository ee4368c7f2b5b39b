/**
 * What a run in flight looks like now, kept up to date one event at a time: its notebook (the
 * outputs it keeps, as the executor has them; console-only output is left out, so it stays within
 * the output limits) and how far it is. Pages and the API read it instead of replaying the run's
 * events, which would cost time in the length of its output on every request.
 */
import type { RunEvent } from '../../pipelines/executor/events';
import { applyRunEvent } from '../../pipelines/executor/replay';
import type { JSONObject, Notebook } from '../../pipelines/notebook/model';

/** How far a run is, from its events. */
export interface RunProgress {
  /** Cells that ended. */
  done: number;
  /** Cells the run sends to the kernel (0 before it started). */
  total: number;
  /** The cell running now, or null. */
  running: number | null;
  /** Cells the run will run that have not ended. */
  pending: Set<number>;
}

/** A run's notebook and progress, as its events so far describe them. */
export class RunView {
  private nb: Notebook | null = null;
  private readonly state: RunProgress = { done: 0, total: 0, running: null, pending: new Set() };

  /** The notebook as it stands (null before the run started). */
  get notebook(): Notebook | null {
    return this.nb;
  }

  /** A copy of the progress. */
  get progress(): RunProgress {
    return { ...this.state, pending: new Set(this.state.pending) };
  }

  /** Applies one logged event (run events change the view; the service's own do not). */
  apply(raw: JSONObject): void {
    const event = raw as unknown as RunEvent;
    const progress = this.state;
    switch (event.type) {
      case 'run-start':
        if (Array.isArray(event.cells)) {
          progress.total = event.cells.length;
          progress.pending = new Set(event.cells.filter((i) => typeof i === 'number'));
        }
        break;
      case 'cell-start':
        progress.running = event.index;
        break;
      case 'cell-end':
        progress.done += 1;
        progress.pending.delete(event.index);
        if (progress.running === event.index) {
          progress.running = null;
        }
        break;
      case 'run-end':
        progress.pending.clear();
        break;
      case 'output':
      case 'output-update':
      case 'output-clear':
        break;
      default:
        return;
    }
    this.nb = applyRunEvent(this.nb, event);
  }
}

/** The progress of a finished run, from its executed notebook. */
export function finishedProgress(nb: Notebook | null): RunProgress {
  const ran = (nb?.cells ?? []).filter(
    (c) => c.cell_type === 'code' && typeof c.metadata.nbstage?.status === 'string',
  ).length;
  return { done: ran, total: ran, running: null, pending: new Set() };
}
