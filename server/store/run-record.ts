/**
 * The `run.json` of a stored version: checking what a caller hands to `commitRun` (ajv), the
 * record written next to the notebook (the run as given, plus the job, build, run id, stage and
 * stored artifacts), the commit message, and checking a record read back from git.
 */
import Ajv from 'ajv';
import type { ErrorObject, JSONSchemaType } from 'ajv';
import { CorruptedFileError, ValidationError } from '../../pipelines/errors';
import type { JSONObject, JSONValue, Notebook } from '../../pipelines/notebook/model';
import { validateNotebook } from '../../pipelines/notebook/validate';
import { escapeControlCharacters } from './control-chars';
import { statusOf } from './notebook-diff';
import { validateBuildName, validateJobName } from './ref-names';
import type { RunVersionInput, StoredArtifact } from './types';

/** The fields `commitRun` checks before anything is written (the notebook is checked apart). */
interface InputShape {
  job: string;
  build: string;
  runId: string;
  stage?: string | null;
  notebook: object;
  run: object;
  artifacts?: { name: string; path: string }[];
  author?: string;
  inputs?: string;
}

const INPUT_SCHEMA: JSONSchemaType<InputShape> = {
  type: 'object',
  properties: {
    job: { type: 'string', minLength: 1 },
    build: { type: 'string', minLength: 1 },
    runId: { type: 'string', minLength: 1, maxLength: 200 },
    stage: { type: 'string', nullable: true, minLength: 1, maxLength: 200 },
    notebook: { type: 'object' },
    run: { type: 'object' },
    artifacts: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          path: { type: 'string', minLength: 1 },
        },
        required: ['name', 'path'],
        additionalProperties: false,
      },
    },
    author: { type: 'string', nullable: true, maxLength: 500 },
    inputs: { type: 'string', nullable: true },
  },
  required: ['job', 'build', 'runId', 'notebook', 'run'],
  additionalProperties: false,
};

/** What a stored `run.json` must hold for the store to read it back. */
export interface StoredRunShape {
  job: string;
  build: string;
  run_id: string;
  stage?: string | null;
  status?: string;
  artifacts?: StoredArtifact[];
}

const STORED_SCHEMA: JSONSchemaType<StoredRunShape> = {
  type: 'object',
  properties: {
    job: { type: 'string', minLength: 1 },
    build: { type: 'string', minLength: 1 },
    run_id: { type: 'string' },
    stage: { type: 'string', nullable: true },
    status: { type: 'string', nullable: true },
    artifacts: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          size: { type: 'integer', minimum: 0 },
        },
        required: ['name', 'sha256', 'size'],
      },
    },
  },
  required: ['job', 'build', 'run_id'],
};

const ajv = new Ajv({ allErrors: false });
const validateInputShape = ajv.compile(INPUT_SCHEMA);
const validateStoredShape = ajv.compile(STORED_SCHEMA);

/** The JSON path of an ajv error, with the missing or extra property when there is one. */
function fieldOf(error: ErrorObject | undefined): string {
  if (error === undefined) {
    return '/';
  }
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return `${error.instancePath}/${String(params.missingProperty)}`;
  }
  if (error.keyword === 'additionalProperties') {
    return `${error.instancePath}/${String(params.additionalProperty)}`;
  }
  return error.instancePath === '' ? '/' : error.instancePath;
}

/**
 * Checks what a caller hands to `commitRun`: the shape (ajv), the job and build names, and the
 * notebook against its nbformat schema.
 *
 * @throws ValidationError naming the field; NotebookInvalidError for an invalid notebook
 */
export function validateRunInput(value: unknown): RunVersionInput {
  if (!validateInputShape(value)) {
    const error = validateInputShape.errors?.[0];
    const field = fieldOf(error);
    const what =
      error?.keyword === 'additionalProperties'
        ? 'is not a known field'
        : (error?.message ?? 'is invalid');
    throw new ValidationError(field.replace(/^\//, ''), `version input ${field} ${what}`);
  }
  validateJobName(value.job);
  validateBuildName(value.build);
  validateNotebook(value.notebook, `notebook of ${value.job} #${value.build}`);
  return value as unknown as RunVersionInput;
}

/**
 * The `run.json` of a version: the identity fields first (job, build, run_id, stage), then the
 * run as given, then the stored artifacts when the caller handed files over.
 */
export function buildRunRecord(
  input: RunVersionInput,
  artifacts: StoredArtifact[] | undefined,
): JSONObject {
  const record: JSONObject = {
    job: input.job,
    build: input.build,
    run_id: input.runId,
    stage: input.stage ?? null,
  };
  for (const [key, value] of Object.entries(input.run)) {
    if (!(key in record)) {
      record[key] = value;
    }
  }
  if (artifacts !== undefined) {
    record.artifacts = artifacts.map((a) => ({ name: a.name, sha256: a.sha256, size: a.size }));
  }
  return record;
}

/** `run.json` as it is written: two-space JSON and a final newline. */
export function serializeRunRecord(record: JSONObject): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** Control characters cannot go into a one-line commit subject; they are shown escaped. */
function oneLine(text: string): string {
  return escapeControlCharacters(text);
}

/**
 * The commit message, one line: `<job> #<build> <stage>: <status>` (no stage part without a
 * stage). Everything else is in `run.json`; a longer message would cost every build bytes.
 */
export function commitMessage(input: RunVersionInput, notebook: Notebook): string {
  const status = statusOf(input.run, notebook) ?? 'unknown';
  const stage = input.stage ? ` ${input.stage}` : '';
  return `${oneLine(`${input.job} #${input.build}${stage}: ${status}`)}\n`;
}

/**
 * Parses and checks a `run.json` read back from the store.
 *
 * @param where - the object's name for errors (`<git dir> <commit>:run.json`)
 * @throws CorruptedFileError when it is not JSON or lacks the identity fields
 */
export function parseStoredRun(text: string, where: string): JSONObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CorruptedFileError(where, '/', `${where}: not JSON: ${(err as Error).message}`);
  }
  if (!validateStoredShape(value)) {
    const error = validateStoredShape.errors?.[0];
    const field = fieldOf(error);
    throw new CorruptedFileError(
      where,
      field,
      `${where}: ${field} ${error?.message ?? 'is invalid'}`,
    );
  }
  return value as unknown as JSONObject;
}

/** A string field of a run record, or null. */
export function stringField(run: JSONObject, key: string): string | null {
  const value: JSONValue | undefined = run[key];
  return typeof value === 'string' ? value : null;
}
