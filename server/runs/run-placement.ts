/**
 * Where a run is queued: its own labels, and its host's when a live worker of that host has them
 * all (affinity: a Jenkins stage runs on the nbstage worker of its own agent), or the in-place
 * worker of the caller's folder; and a warning on a run no live worker can take.
 */
import { ValidationError } from '../../pipelines/errors';
import { canTake, hostLabel } from '../queue/labels';
import type { RunQueue } from '../queue/types';
import type { RunRequest } from './run-request';
import type { ServiceRun } from './service-run';

/**
 * The labels a run is queued with: its own, and its host's label when a live worker of that
 * host has them all (then that worker takes it; otherwise any worker with the labels does).
 * A session's runs go to the session's worker anyway. Sets `record.host` when it chose a host.
 * @throws ValidationError for an in-place workspace without a host
 */
export async function queueLabels(
  record: ServiceRun,
  request: RunRequest,
  queue: RunQueue,
): Promise<string[]> {
  const { hostId } = request;
  const inPlace = request.workspace?.inPlace;
  if (inPlace !== undefined) {
    // Only the worker that runs the caller's folder in place can run it.
    if (hostId === undefined) {
      throw new ValidationError(
        'body.hostId',
        'body.hostId: an in-place workspace needs the host it is on',
      );
    }
    record.host = hostId;
    return [...record.labels, hostLabel(hostId), inPlace.label];
  }
  if (hostId === undefined || record.session !== null) {
    return record.labels;
  }
  const wanted = [...record.labels, hostLabel(hostId)];
  const workers = await queue.workers().catch(() => []);
  if (!workers.some((w) => canTake(w.labels, wanted))) {
    return record.labels;
  }
  record.host = hostId;
  return wanted;
}

/**
 * A run that no live worker can take waits until one comes: its record says so (and the CLI
 * prints it), rather than leaving the caller waiting without a word.
 */
export async function warnWithoutWorker(record: ServiceRun, queue: RunQueue): Promise<void> {
  const workers = await queue.workers().catch(() => null);
  if (workers === null || workers.some((w) => canTake(w.labels, record.labels))) {
    return;
  }
  const labels = record.labels.length === 0 ? 'any labels' : `label(s) ${record.labels.join(', ')}`;
  record.warnings = [
    ...(record.warnings ?? []),
    `no worker with ${labels} is up now: the run waits in the queue until one is`,
  ];
}
