/**
 * Jenkins' JSON answers, checked with ajv before nbstage trusts them (STYLE rule 5): the crumb,
 * queue items, builds and a job's build list. Extra fields are allowed (Jenkins adds many, and
 * plugins more); the fields nbstage reads must have the types it expects.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { JenkinsError } from '../../pipelines/errors';
import { fileDepthProblem } from '../../pipelines/notebook/json-depth';
import type { JenkinsBuild, JenkinsQueueItem } from './jenkins-api';
import { JENKINS_RESULTS } from './jenkins-api';

const ajv = new Ajv({ allErrors: false, strict: false });

const nullableString = { type: ['string', 'null'] };

/** `/crumbIssuer/api/json`. */
export interface JenkinsCrumb {
  crumb: string;
  crumbRequestField: string;
}

const crumbSchema = {
  type: 'object',
  required: ['crumb', 'crumbRequestField'],
  properties: {
    crumb: { type: 'string', minLength: 1 },
    crumbRequestField: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
  },
};

const queueItemSchema = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'integer', minimum: 0 },
    cancelled: { type: 'boolean' },
    why: nullableString,
    executable: {
      oneOf: [
        { type: 'null' },
        {
          type: 'object',
          required: ['number'],
          properties: { number: { type: 'integer', minimum: 1 }, url: { type: 'string' } },
        },
      ],
    },
  },
};

const buildProperties = {
  number: { type: 'integer', minimum: 1 },
  url: { type: 'string' },
  building: { type: 'boolean' },
  result: { oneOf: [{ type: 'null' }, { enum: [...JENKINS_RESULTS] }] },
  duration: { type: 'number', minimum: 0 },
  timestamp: { type: 'number', minimum: 0 },
  description: nullableString,
};

const buildSchema = {
  type: 'object',
  required: ['number', 'url', 'building'],
  properties: buildProperties,
};

const buildListSchema = {
  type: 'object',
  required: ['builds'],
  properties: { builds: { type: 'array', items: buildSchema } },
};

interface RawBuild {
  number: number;
  url: string;
  building: boolean;
  result?: JenkinsBuild['result'];
  duration?: number;
  timestamp?: number;
  description?: string | null;
}

interface RawQueueItem {
  id: number;
  cancelled?: boolean;
  why?: string | null;
  executable?: { number: number; url?: string } | null;
}

const validators = {
  crumb: ajv.compile<JenkinsCrumb>(crumbSchema),
  queueItem: ajv.compile<RawQueueItem>(queueItemSchema),
  build: ajv.compile<RawBuild>(buildSchema),
  builds: ajv.compile<{ builds: RawBuild[] }>(buildListSchema),
};

function check<T>(validate: ValidateFunction<T>, value: unknown, what: string): T {
  const tooDeep = fileDepthProblem(value);
  if (tooDeep !== null) {
    throw new JenkinsError(`Jenkins answered ${what} with unexpected JSON: ${tooDeep}`);
  }
  if (!validate(value)) {
    const err = validate.errors?.[0];
    const where = err === undefined ? '' : `${err.instancePath || '/'} ${err.message ?? ''}`;
    throw new JenkinsError(`Jenkins answered ${what} with unexpected JSON: ${where.trim()}`);
  }
  return value;
}

function toBuild(raw: RawBuild): JenkinsBuild {
  return {
    number: raw.number,
    url: raw.url,
    building: raw.building,
    result: raw.result ?? null,
    duration: raw.duration ?? 0,
    timestamp: raw.timestamp ?? 0,
    description: raw.description ?? null,
  };
}

/** Checks a crumb answer. */
export function parseCrumb(value: unknown, what: string): JenkinsCrumb {
  return check(validators.crumb, value, what);
}

/** Checks a queue item answer. */
export function parseQueueItem(value: unknown, what: string): JenkinsQueueItem {
  const raw = check(validators.queueItem, value, what);
  return {
    id: raw.id,
    cancelled: raw.cancelled === true,
    why: raw.why ?? null,
    executable:
      raw.executable === undefined || raw.executable === null
        ? null
        : { number: raw.executable.number, url: raw.executable.url ?? '' },
  };
}

/** Checks a build answer. */
export function parseBuild(value: unknown, what: string): JenkinsBuild {
  return toBuild(check(validators.build, value, what));
}

/** Checks a job's `builds` list. */
export function parseBuildList(value: unknown, what: string): JenkinsBuild[] {
  return check(validators.builds, value, what).builds.map(toBuild);
}

/** The `tree` query that asks a job for exactly what {@link parseBuildList} reads. */
export const BUILD_TREE = 'number,url,building,result,duration,timestamp,description';
