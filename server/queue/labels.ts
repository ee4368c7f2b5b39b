/**
 * Label sets: which worker may take which job. A job names the labels it needs; a worker takes it
 * only if it has all of them. Label sets have a canonical key (sorted, `+`-joined, `-` when
 * empty) that names the BullMQ queue their jobs wait in. Also the default worker id.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { ValidationError } from '../../pipelines/errors';
import { MAX_NAME_LENGTH } from './validate';

/** The key of the empty label set (jobs any worker may take). */
export const NO_LABELS_KEY = '-';

/** The canonical key of a label set: sorted and `+`-joined (`cpu+gpu`), `-` when empty. */
export function labelSetKey(labels: readonly string[]): string {
  const unique = [...new Set(labels)].sort();
  return unique.length === 0 ? NO_LABELS_KEY : unique.join('+');
}

/** The labels of a label-set key; the inverse of {@link labelSetKey}. */
export function labelsOfKey(key: string): string[] {
  return key === NO_LABELS_KEY ? [] : key.split('+');
}

/** True when a worker with `workerLabels` may take a job that needs `required`. */
export function canTake(workerLabels: readonly string[], required: readonly string[]): boolean {
  const have = new Set(workerLabels);
  return required.every((label) => have.has(label));
}

/** The required labels a worker lacks, for error messages. */
export function missingLabels(
  workerLabels: readonly string[],
  required: readonly string[],
): string[] {
  const have = new Set(workerLabels);
  return required.filter((label) => !have.has(label));
}

/**
 * Why a job of a session cannot run: the worker that holds the session lacks labels the job
 * needs (a job of a session runs only on the session's worker).
 */
export function sessionWorkerLacks(
  session: string,
  workerId: string,
  workerLabels: readonly string[],
  required: readonly string[],
): ValidationError {
  return new ValidationError(
    'payload.labels',
    `session ${session} is held by worker ${workerId}, which lacks label(s) ` +
      missingLabels(workerLabels, required).join(', '),
  );
}

/** What every worker's host label starts with (`host.<host id>`). */
export const HOST_LABEL_PREFIX = 'host.';

/**
 * The id of this host as runs and workers give it: `NBSTAGE_HOST_ID`, else the host name, made
 * safe as a label (letters, digits, `.`, `_`, `-`; at most 59 characters).
 */
export function hostIdOf(env: NodeJS.ProcessEnv): string {
  const raw =
    env.NBSTAGE_HOST_ID !== undefined && env.NBSTAGE_HOST_ID !== ''
      ? env.NBSTAGE_HOST_ID
      : os.hostname();
  const safe = raw.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64 - HOST_LABEL_PREFIX.length);
  return safe === '' ? 'unknown' : safe;
}

/** The label of the workers of host `hostId`: a run from that host goes to them first. */
export function hostLabel(hostId: string): string {
  return `${HOST_LABEL_PREFIX}${hostId}`;
}

/** A default worker id: host name, process id and a random suffix, safe as a queue name. */
export function defaultWorkerId(): string {
  const host = os
    .hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  const suffix = randomBytes(3).toString('hex');
  const tail = `-${process.pid}-${suffix}`;
  return `${(host || 'worker').slice(0, MAX_NAME_LENGTH - tail.length)}${tail}`;
}
