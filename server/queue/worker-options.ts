/**
 * The worker options both backends accept, checked the same way, and their defaults.
 */
import { ValidationError } from '../../pipelines/errors';
import type { WorkerOptions } from './types';
import { MAX_NAME_LENGTH, NAME_PATTERN } from './validate';

/** Thirty minutes: how long a session may sit idle before its worker releases it. */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60 * 1000;

/** Checks the options of a worker; throws a ValidationError naming the bad one. */
export function checkWorkerOptions(options: WorkerOptions): void {
  const pattern = new RegExp(NAME_PATTERN);
  if (
    options.id !== undefined &&
    (!pattern.test(options.id) || options.id.length > MAX_NAME_LENGTH)
  ) {
    throw new ValidationError(
      'id',
      `worker id "${options.id}" must be 1 to ${MAX_NAME_LENGTH} letters, digits, '.', '_' or '-'`,
    );
  }
  for (const label of options.labels) {
    if (!pattern.test(label) || label.length > MAX_NAME_LENGTH) {
      throw new ValidationError(
        'labels',
        `worker label "${label}" must be 1 to ${MAX_NAME_LENGTH} letters, digits, '.', '_' or '-'`,
      );
    }
  }
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new ValidationError(
      'concurrency',
      `concurrency must be an integer of at least 1, got ${options.concurrency}`,
    );
  }
  if (
    options.sessionIdleMs !== undefined &&
    !(Number.isFinite(options.sessionIdleMs) && options.sessionIdleMs > 0)
  ) {
    throw new ValidationError('sessionIdleMs', 'sessionIdleMs must be a positive number');
  }
}
