/**
 * What a settled job handler leaves on its job: the `{ code, message }` of what it threw, or the
 * JSON object it resolved with.
 */
import { NbstageError, asNbstageError } from '../../pipelines/errors';
import type { JSONObject, JobError } from './types';

/** How a job's handler settled: what it resolved with (as JSON), or the error it threw. */
export type JobOutcome = { result: JSONObject } | { error: JobError };

/** The code and message of a handler's error: an NbstageError's own, else NBSTAGE_INTERNAL. */
export function jobErrorOf(err: unknown): JobError {
  if (err instanceof NbstageError) {
    return { code: err.code, message: err.message };
  }
  // An error from another realm or a child process: keep an NBSTAGE_ code it carries.
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string' && /^NBSTAGE_[A-Z0-9_]+$/.test(code)) {
      return { code, message: err.message };
    }
  }
  const wrapped = asNbstageError(err);
  return { code: wrapped.code, message: wrapped.message };
}

/**
 * A handler's result as a plain JSON object (a copy); `{}` when it resolved with something else.
 * Throws when the object cannot be written as JSON (a cycle, a BigInt).
 */
export function jobResultOf(value: unknown): JSONObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {};
  }
  return JSON.parse(JSON.stringify(value)) as JSONObject;
}
