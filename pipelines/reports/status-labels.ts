/**
 * How run and cell statuses read to people, in the console, the HTML report and the web page:
 * one label per status.
 */
import type { CellStatus, RunStatus } from '../executor/events';

/** Human labels of run statuses. */
export const RUN_STATUS_LABELS: Record<RunStatus, string> = {
  completed: 'completed',
  failed: 'failed',
  timeout: 'timed out',
  kernel_died: 'kernel died',
  cancelled: 'cancelled',
  error: 'error',
};

/** Human labels of cell statuses. */
export const CELL_STATUS_LABELS: Record<CellStatus, string> = {
  ok: 'ok',
  error: 'error',
  skipped: 'skipped',
  aborted: 'not run',
  timeout: 'timed out',
  cancelled: 'cancelled',
  kernel_died: 'kernel died',
};
