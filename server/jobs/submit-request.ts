/**
 * A notebook submitted as a Jenkins job (`POST /api/v1/jobs`, `nbstage submit`), and the
 * submission the service follows. The JSON schema here is the one the OpenAPI document publishes
 * and ajv enforces.
 */
import Ajv from 'ajv';
import { ValidationError } from '../../pipelines/errors';
import { bodyField } from '../http/body-field';
import { notebookRequestProperties } from '../runs/run-request';
import type { JSONObject, JSONValue } from '../../pipelines/notebook/model';
import type { JenkinsResult } from '../../jenkins-plugin-bridge/rest/jenkins-api';

/** The body of `POST /api/v1/jobs`. */
export interface SubmitRequest {
  /** Jenkins full name of the job (`team/ml/train`). */
  job: string;
  /** The notebook (nbformat 4 JSON) or Zeppelin note. */
  notebook: JSONObject;
  /** File name the agents give it (default `notebook.ipynb`, `note.zpln` for a note). */
  notebookName?: string;
  /** Values of the notebook's parameters for this build. */
  parameters?: Record<string, JSONValue>;
  /** Agent label of stages whose `metadata.nbstage.agent` names none. */
  agent?: string;
}

/** JSON schema of {@link SubmitRequest}. */
export const submitRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['job', 'notebook'],
  properties: {
    job: {
      type: 'string',
      minLength: 1,
      maxLength: 1000,
      description: 'Jenkins full name; folders separated by /',
    },
    ...notebookRequestProperties,
    agent: { type: 'string', pattern: '^[A-Za-z0-9._ &|!()-]{1,200}$' },
  },
} as const;

/** Where a submission is. */
export type SubmissionState = 'queued' | 'building' | 'finished' | 'cancelled' | 'error';

/** A submitted job as the service follows it (`GET /api/v1/jobs/:job/submissions/:id`). */
export interface Submission {
  id: string;
  job: string;
  state: SubmissionState;
  /** Whether this submission created the job (false: it updated its config.xml). */
  created: boolean;
  /** Jenkins' queue item id. */
  queueItem: number;
  /** The build number, once the queue item left the queue. */
  build: number | null;
  /** The Jenkins build page. */
  buildUrl: string | null;
  /** The nbstage version page of the build (also the Jenkins build's description). */
  versionUrl: string | null;
  /** Set when state is finished. */
  result: JenkinsResult | null;
  /** Why it ended without a result (cancelled, error). */
  error: { code: string; message: string } | null;
  /** What Jenkins got, as strings. */
  parameters: Record<string, string>;
  submittedAt: string;
  submittedBy: string;
  finishedAt: string | null;
}

const validate = new Ajv({ allErrors: false, strict: false }).compile<SubmitRequest>(
  submitRequestSchema,
);

/** Validates a submit body; the error names the offending field. */
export function parseSubmitRequest(body: unknown): SubmitRequest {
  if (validate(body)) {
    return body;
  }
  const err = validate.errors?.[0];
  const where = bodyField(err);
  throw new ValidationError(where, `${where}: ${err?.message ?? 'invalid'}`);
}
