/**
 * How a run ends that failed before or outside a kernel: cancelled while queued, refused by its
 * worker, its worker lost, in flight when the service stopped, or finishing it failed. No kernel
 * said how it ended, so its status comes from the failure, and the notebook that stands for it
 * gets the run's `metadata.nbstage` as the executor would have written it.
 */
import { markUnstarted, statusFromError } from '../../pipelines/executor/outcome';
import type { Notebook } from '../../pipelines/notebook/model';
import type { RunFailure, ServiceRun } from './service-run';

/**
 * Ends a run no kernel ended: its state (the executor's status of the failure's code: a cancel
 * is `cancelled`, a lost worker `kernel_died` as its kernel went with it, anything else
 * `error`), end time and error; and, when given the notebook that stands for the run, that
 * notebook's `metadata.nbstage` (run id, status, exception).
 */
export function endRunOutsideKernel(
  record: ServiceRun,
  failure: RunFailure | null,
  notebook?: Notebook,
): void {
  if (notebook !== undefined) {
    markUnstarted(notebook, record.id, failure);
  }
  record.state = failure === null ? 'error' : statusFromError(failure);
  record.finishedAt = new Date().toISOString();
  record.error = failure;
}
