/**
 * ajv schemas and parsers for everything the queue reads from outside its own memory: run job
 * payloads (on enqueue and again when a worker reads one back from Redis), job records, event and
 * control messages, worker heartbeats. A parser returns the typed value or throws a
 * ValidationError that names the offending field.
 */
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ValidationError } from '../../pipelines/errors';
import { checkJsonDepth, checkRequestDepth } from '../../pipelines/notebook/json-depth';
import type { JobInfo, QueueEvent, RunJobPayload, WorkerInfo } from './types';

/** Run ids, labels and worker ids: safe in BullMQ queue names, job ids and Redis keys. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
/** Longest run id. */
export const MAX_RUN_ID_LENGTH = 128;
/** Longest label or worker id. */
export const MAX_NAME_LENGTH = 64;
/** Lowest and highest job priority. */
export const PRIORITY_RANGE = { min: -1000, max: 1000 } as const;

const name = (maxLength: number): object => ({
  type: 'string',
  minLength: 1,
  maxLength,
  pattern: NAME_PATTERN,
});
const labels = { type: 'array', items: name(MAX_NAME_LENGTH), uniqueItems: true, maxItems: 32 };
const isoTime = { type: 'string', minLength: 1, maxLength: 64 };
const jobError = {
  type: 'object',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: { code: { type: 'string', minLength: 1 }, message: { type: 'string' } },
};
const EVENT_TYPES = ['queued', 'active', 'progress', 'completed', 'failed', 'cancelled'];
const JOB_STATES = ['queued', 'active', 'completed', 'failed', 'cancelled'];

const payloadSchema = {
  type: 'object',
  required: ['runId', 'labels', 'spec'],
  additionalProperties: false,
  properties: {
    runId: name(MAX_RUN_ID_LENGTH),
    labels,
    session: { type: ['string', 'null'], minLength: 1, maxLength: 512 },
    gpus: { type: 'integer', minimum: 0, maximum: 1024 },
    priority: { type: 'integer', minimum: PRIORITY_RANGE.min, maximum: PRIORITY_RANGE.max },
    spec: { type: 'object' },
    endSession: { type: 'boolean' },
  },
};

const jobInfoSchema = {
  type: 'object',
  required: ['runId', 'state', 'enqueuedAt'],
  additionalProperties: false,
  properties: {
    runId: name(MAX_RUN_ID_LENGTH),
    state: { enum: JOB_STATES },
    workerId: name(MAX_NAME_LENGTH),
    result: { type: 'object' },
    error: jobError,
    enqueuedAt: isoTime,
    startedAt: isoTime,
    finishedAt: isoTime,
  },
};

const eventSchema = {
  type: 'object',
  required: ['runId', 'type'],
  additionalProperties: false,
  properties: {
    runId: name(MAX_RUN_ID_LENGTH),
    type: { enum: EVENT_TYPES },
    data: { type: 'object' },
  },
};

/** A message on the control channel: cancel an active run, or wake workers of a queue. */
export type ControlMessage = { type: 'cancel'; runId: string } | { type: 'wake'; queue: string };

const controlSchema = {
  oneOf: [
    {
      type: 'object',
      required: ['type', 'runId'],
      additionalProperties: false,
      properties: { type: { const: 'cancel' }, runId: name(MAX_RUN_ID_LENGTH) },
    },
    {
      type: 'object',
      required: ['type', 'queue'],
      additionalProperties: false,
      properties: { type: { const: 'wake' }, queue: { type: 'string', minLength: 1 } },
    },
  ],
};

const workerInfoSchema = {
  type: 'object',
  required: ['id', 'labels', 'concurrency', 'active', 'sessions'],
  additionalProperties: false,
  properties: {
    id: name(MAX_NAME_LENGTH),
    labels,
    concurrency: { type: 'integer', minimum: 1 },
    active: { type: 'integer', minimum: 0 },
    sessions: { type: 'array', items: { type: 'string' } },
  },
};

/** The data BullMQ keeps for a job: the payload, or (for a corrupt one) at least the run id. */
const jobDataSchema = { type: 'object', required: ['runId'], properties: { runId: name(128) } };

let compiled:
  | {
      payload: ValidateFunction<RunJobPayload>;
      jobInfo: ValidateFunction<JobInfo>;
      event: ValidateFunction<QueueEvent>;
      control: ValidateFunction<ControlMessage>;
      workerInfo: ValidateFunction<WorkerInfo>;
      jobData: ValidateFunction<{ runId: string }>;
    }
  | undefined;

/** The compiled validators, made on first use. */
function validators(): NonNullable<typeof compiled> {
  if (compiled === undefined) {
    const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
    compiled = {
      payload: ajv.compile<RunJobPayload>(payloadSchema),
      jobInfo: ajv.compile<JobInfo>(jobInfoSchema),
      event: ajv.compile<QueueEvent>(eventSchema),
      control: ajv.compile<ControlMessage>(controlSchema),
      workerInfo: ajv.compile<WorkerInfo>(workerInfoSchema),
      jobData: ajv.compile<{ runId: string }>(jobDataSchema),
    };
  }
  return compiled;
}

/** The field an ajv error is about, as a dotted path under `what` (`payload.labels.0`). */
function fieldOf(error: ErrorObject, what: string): string {
  const parts = error.instancePath.split('/').filter((p) => p !== '');
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    parts.push(params.missingProperty);
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    parts.push(params.additionalProperty);
  }
  return [what, ...parts].join('.');
}

/** One readable line for an ajv error. */
function describe(error: ErrorObject, field: string): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not allowed`;
    case 'enum':
      return `${field} must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern':
      return `${field} must be letters, digits, '.', '_' or '-' (not starting with '.', '_', '-')`;
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

/** Runs one validator; throws a ValidationError naming the field of the first problem. */
function check<T>(validate: ValidateFunction<T>, value: unknown, what: string): T {
  if (validate(value)) {
    return value;
  }
  const errors = validate.errors ?? [];
  const error = errors.find((e) => e.keyword !== 'oneOf') ?? errors[0];
  if (error === undefined) {
    throw new ValidationError(what, `${what} is invalid`);
  }
  const field = fieldOf(error, what);
  throw new ValidationError(field, `invalid ${what}: ${describe(error, field)}`);
}

/**
 * Checks a run job payload (from a caller, or read back from Redis): its shape, and how deeply
 * its run request nests (the notebook and each parameter as a request body's, the rest of the
 * spec as a whole), before anything clones or serializes it.
 */
export function parseRunJobPayload(value: unknown): RunJobPayload {
  const payload = check(validators().payload, value, 'payload');
  const { request, ...rest } = payload.spec;
  if (request !== undefined) {
    checkRequestDepth(request, 'payload.spec.request');
  }
  checkJsonDepth(rest, 'payload.spec');
  return payload;
}

/** Checks a job record read back from Redis. */
export function parseJobInfo(value: unknown): JobInfo {
  return check(validators().jobInfo, value, 'job');
}

/** Checks a job event read back from Redis. */
export function parseQueueEvent(value: unknown): QueueEvent {
  return check(validators().event, value, 'event');
}

/** Checks a control message read back from Redis. */
export function parseControlMessage(value: unknown): ControlMessage {
  return check(validators().control, value, 'control message');
}

/** Checks a worker heartbeat read back from Redis. */
export function parseWorkerInfo(value: unknown): WorkerInfo {
  return check(validators().workerInfo, value, 'worker');
}

/** The run id of a job's data read back from Redis, when at least that much is readable. */
export function runIdOfJobData(value: unknown): string | undefined {
  return validators().jobData(value) ? (value as { runId: string }).runId : undefined;
}

/** Parses JSON text read back from Redis, turning a syntax error into a ValidationError. */
export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ValidationError(what, `invalid ${what}: not JSON (${(err as Error).message})`);
  }
}

/**
 * Reads one message from a Redis channel: JSON text, then `parse`. What is not valid goes to
 * `onError` and gives undefined (one bad message never stops a listener).
 */
export function readMessage<T>(
  text: string,
  what: string,
  parse: (value: unknown) => T,
  onError: (err: Error) => void,
): T | undefined {
  try {
    return parse(parseJsonText(text, what));
  } catch (err) {
    onError(err as Error);
    return undefined;
  }
}
