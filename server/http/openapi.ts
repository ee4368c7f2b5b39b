/**
 * The OpenAPI 3.1 document of the nbstage HTTP API, served at /api/v1/openapi.json. The request
 * schemas here are the ones ajv enforces, so the document and the validation cannot drift.
 */
import { missingBlobsSchema } from './blob-routes';
import { ENVIRONMENT_DIFF_SCHEMA } from '../../pipelines/environment/diff-schema';
import { MANIFEST_SCHEMA } from '../../pipelines/workspace/validate-manifest';
import { LOGIN_COOKIE } from '../auth/middleware';
import { submitRequestSchema } from '../jobs/submit-request';
import { runRequestSchema } from '../runs/run-request';
import { reproduceRequestSchema } from '../runs/reproduce';

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', pattern: '^NBSTAGE_' }, message: { type: 'string' } },
    },
  },
};

const errors = (...codes: number[]): Record<string, unknown> =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description: 'error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );

const json = (schema: unknown, description = 'OK'): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

/** A required path parameter. */
const pathParam = (
  name: string,
  schema: unknown,
  description?: string,
): Record<string, unknown> => ({
  name,
  in: 'path',
  required: true,
  schema,
  ...(description === undefined ? {} : { description }),
});

const runId = pathParam('id', { type: 'string', format: 'uuid' });

const sha256Param = pathParam('sha256', { type: 'string', pattern: '^[0-9a-f]{64}$' });
const job = pathParam('job', { type: 'string' }, 'Jenkins full name, URL-encoded');
/** The `{name}` of a file under a run (an artifact, a report file). */
const fileName = pathParam('name', { type: 'string' });

/** A GET route of one run (`/api/v1/runs/{id}/...`) that answers `ok`, or 401/404. */
const runGet = (summary: string, ok: unknown, ...more: unknown[]): Record<string, unknown> => ({
  get: {
    parameters: [runId, ...more],
    summary,
    responses: { '200': ok, ...errors(401, 404) },
  },
});

/**
 * The body of a request that carries a notebook: the `schema` as JSON, or multipart with the
 * notebook as a file and the other fields as JSON in `options`.
 */
const notebookBody = (schema: string): Record<string, unknown> => ({
  required: true,
  content: {
    'application/json': { schema: { $ref: `#/components/schemas/${schema}` } },
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['notebook'],
        properties: {
          notebook: { type: 'string', format: 'binary' },
          options: { type: 'string', description: `${schema} fields but notebook, as JSON` },
        },
      },
    },
  },
});

const build = pathParam('build', { type: 'string' });
/** A submission's id: a UUID, like a run's. */
const submissionId = runId;

/** A submitted job as the service follows it (server/jobs/submit-request.ts `Submission`). */
const submissionSchema = {
  type: 'object',
  required: ['id', 'job', 'state', 'created', 'queueItem', 'build', 'result', 'error'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    job: { type: 'string' },
    state: { enum: ['queued', 'building', 'finished', 'cancelled', 'error'] },
    created: { type: 'boolean', description: 'true: this submission created the job' },
    queueItem: { type: 'integer', description: "Jenkins' queue item id" },
    build: { type: ['integer', 'null'], description: 'known once the item left the queue' },
    buildUrl: { type: ['string', 'null'] },
    versionUrl: { type: ['string', 'null'], description: 'the nbstage version page' },
    result: {
      oneOf: [
        { type: 'null' },
        { enum: ['SUCCESS', 'UNSTABLE', 'FAILURE', 'ABORTED', 'NOT_BUILT'] },
      ],
    },
    error: { oneOf: [{ type: 'null' }, { $ref: '#/components/schemas/Error/properties/error' }] },
    parameters: { type: 'object', additionalProperties: { type: 'string' } },
    submittedAt: { type: 'string', format: 'date-time' },
    submittedBy: { type: 'string' },
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
  },
};

/**
 * `paths` with 429 added to every operation that can answer 401: a client that failed to
 * authenticate too often is refused before its credential is checked (server/auth).
 */
function withAuthLimit<T extends Record<string, Record<string, unknown>>>(paths: T): T {
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const responses = (operation as { responses?: Record<string, unknown> }).responses;
      if (responses !== undefined && '401' in responses && !('429' in responses)) {
        Object.assign(responses, errors(429));
      }
    }
  }
  return paths;
}

/** The OpenAPI document. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'nbstage',
      version,
      description:
        'Run notebooks on Jupyter kernels as Jenkins pipeline stages. Every request but /healthz and /readyz needs `Authorization: Bearer <token>`; roles: read, run, admin. A client address that fails to authenticate too often (NBSTAGE_AUTH_FAILURES_PER_MINUTE) is answered 429 with Retry-After, its credentials unchecked, until it may try again.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: LOGIN_COOKIE,
          description:
            "the web page's login session (POST /login); unsafe requests it authenticates also need the X-Nbstage-Request header and this origin",
        },
      },
      schemas: {
        Error: errorSchema,
        RunRequest: runRequestSchema,
        ReproduceRequest: reproduceRequestSchema,
        SubmitRequest: submitRequestSchema,
        MissingBlobs: missingBlobsSchema,
        Manifest: MANIFEST_SCHEMA,
        Submission: submissionSchema,
        Run: {
          type: 'object',
          required: ['id', 'state'],
          properties: {
            id: { type: 'string' },
            state: { type: 'string' },
            warnings: {
              type: 'array',
              items: { type: 'string' },
              description:
                'what the notebook had that nbformat only warns about, and how it was repaired',
            },
          },
        },
      },
    },
    paths: withAuthLimit({
      '/healthz': {
        get: { security: [], summary: 'liveness', responses: { '200': json({ type: 'object' }) } },
      },
      '/readyz': {
        get: {
          security: [],
          summary: 'readiness',
          responses: { '200': json({ type: 'object' }), ...errors(503) },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'text/plain' }, ...errors(401) },
        },
      },
      '/api/v1/openapi.json': {
        get: { summary: 'this document', responses: { '200': json({ type: 'object' }) } },
      },
      '/api/v1/runs': {
        post: {
          summary: 'create a run (role run)',
          requestBody: notebookBody('RunRequest'),
          responses: {
            '201': json({ $ref: '#/components/schemas/Run' }, 'created'),
            ...errors(400, 401, 403, 413, 429),
          },
        },
        get: {
          summary: 'list runs',
          responses: {
            '200': json({ type: 'array', items: { $ref: '#/components/schemas/Run' } }),
            ...errors(401),
          },
        },
      },
      '/api/v1/runs/{id}': runGet('a run', json({ $ref: '#/components/schemas/Run' })),
      '/api/v1/runs/{id}/cancel': {
        post: {
          parameters: [runId],
          summary: 'cancel (role run)',
          responses: { '202': json({ type: 'object' }), ...errors(401, 403, 404, 409) },
        },
      },
      '/api/v1/runs/{id}/notebook': runGet(
        'executed (or, while running, partial) notebook',
        json({ type: 'object' }),
      ),
      '/api/v1/runs/{id}/junit': runGet('JUnit XML, one test case per cell', {
        description: 'application/xml',
      }),
      '/api/v1/runs/{id}/html': runGet('HTML report (assets under report_files/)', {
        description: 'text/html',
      }),
      '/api/v1/runs/{id}/report_files/{name}': runGet(
        'a file the HTML report refers to (its stylesheet, images)',
        { description: 'the file' },
        fileName,
      ),
      '/api/v1/runs/{id}/artifacts': runGet(
        'artifacts the notebook wrote',
        json({ type: 'array' }),
      ),
      '/api/v1/runs/{id}/artifacts/{name}': runGet(
        'one artifact',
        { description: 'the file' },
        fileName,
      ),
      '/api/v1/blobs/missing': {
        post: {
          summary:
            'which of these digests the content store lacks (role run): upload only those before creating a run with a workspace',
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/MissingBlobs' } },
            },
          },
          responses: {
            '200': json({
              type: 'object',
              properties: { missing: { type: 'array', items: { type: 'string' } } },
            }),
            ...errors(400, 401, 403, 413, 429),
          },
        },
      },
      '/api/v1/blobs/{sha256}': {
        put: {
          parameters: [sha256Param],
          summary:
            'upload one blob as the raw body (role run): a file of a workspace, or its manifest (canonical JSON, #/components/schemas/Manifest); hashed on arrival, refused (400, nothing stored) when the content is not what the digest says; at most NBSTAGE_MAX_BLOB_BYTES',
          requestBody: {
            required: true,
            content: {
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '200': json({ type: 'object' }, 'already stored: nothing was read'),
            '201': json({ type: 'object' }, 'stored'),
            ...errors(400, 401, 403, 413, 429, 503),
          },
        },
        get: {
          parameters: [sha256Param],
          summary: 'one blob (a run input or output), as stored',
          responses: {
            '200': { description: 'application/octet-stream' },
            ...errors(400, 401, 404, 429),
          },
        },
      },
      '/api/v1/runs/{id}/stream': {
        get: {
          parameters: [
            runId,
            { name: 'from', in: 'query', schema: { type: 'integer', minimum: 0 } },
          ],
          summary:
            "websocket: the run's events from `from` (default 0) on, then live; token as Authorization header or ?token=",
          responses: { '101': { description: 'switching protocols' }, ...errors(401, 404) },
        },
      },
      '/api/v1/jobs': {
        get: {
          summary: 'jobs with versions',
          responses: { '200': json({ type: 'array', items: { type: 'string' } }), ...errors(401) },
        },
        post: {
          summary:
            'submit a notebook as a Jenkins job (role run): store it, create or update the Pipeline job, trigger it; the queue item and build are followed in the background',
          requestBody: notebookBody('SubmitRequest'),
          responses: {
            '202': json(
              { $ref: '#/components/schemas/Submission' },
              'queued in Jenkins; Location is the submission',
            ),
            ...errors(400, 401, 403, 413, 429, 502, 503),
          },
        },
      },
      '/api/v1/jobs/{job}/submissions/{id}': {
        get: {
          parameters: [job, submissionId],
          summary: 'a submission: queue item, build number, result (kept in memory, newest 500)',
          responses: {
            '200': json({ $ref: '#/components/schemas/Submission' }),
            ...errors(401, 404),
          },
        },
      },
      '/api/v1/jobs/{job}/submissions/{id}/cancel': {
        post: {
          parameters: [job, submissionId],
          summary: 'cancel (role run): a waiting queue item is cancelled, a running build stopped',
          responses: {
            '202': json({ $ref: '#/components/schemas/Submission' }),
            ...errors(401, 403, 404, 409, 502, 503),
          },
        },
      },
      '/api/v1/jobs/{job}/source': {
        get: {
          parameters: [job],
          summary:
            'the notebook last submitted for the job, as sent (what `nbstage fetch` writes); X-Notebook-Name is its file name',
          responses: { '200': json({ type: 'object' }), ...errors(401, 404) },
        },
      },
      '/api/v1/jobs/{job}/builds/{build}/console': {
        get: {
          parameters: [
            job,
            { name: 'build', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
            { name: 'start', in: 'query', schema: { type: 'integer', minimum: 0 } },
          ],
          summary:
            "the Jenkins build's console from byte `start` on: X-Text-Size is the next start, X-More-Data true while the build runs",
          responses: {
            '200': { description: 'text/plain' },
            ...errors(400, 401, 404, 502, 503),
          },
        },
      },
      '/api/v1/jobs/{job}/builds': {
        get: {
          parameters: [job],
          summary:
            "builds of a job, newest first: its versions merged with its Jenkins builds (each entry's `jenkins`: number, result, url, duration ms, building, timestamp, or null); a Jenkins build without a version has commit null and Jenkins' state as status",
          responses: { '200': json({ type: 'array' }), ...errors(401, 404) },
        },
      },
      '/api/v1/jobs/{job}/builds/{build}': {
        get: {
          parameters: [job, build],
          summary: 'one version: run.json and commit',
          responses: { '200': json({ type: 'object' }), ...errors(401, 404) },
        },
      },
      '/api/v1/jobs/{job}/builds/{build}/reproduce': {
        post: {
          parameters: [job, build],
          summary:
            "run a stored build again as it ran (role run): its notebook, parameters, stages, labels, memory limit and run options as recorded, its workspace from the content store by the manifest digest it recorded (not today's files), as the job's next build `<build>-repro-N`, checked against the build as `baseline: <build>` is (NBSTAGE_CHECK_FAILED names the first differing cell); the diff of the two builds lists the environment differences. 400 when the build ran with secrets the body does not send again, or ran in place",
          requestBody: {
            required: false,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/ReproduceRequest' } },
            },
          },
          responses: {
            '201': json({ $ref: '#/components/schemas/Run' }, 'created'),
            ...errors(400, 401, 403, 404, 503),
          },
        },
      },
      '/api/v1/jobs/{job}/builds/{build}/notebook': {
        get: {
          parameters: [job, build],
          summary: 'the versioned notebook',
          responses: { '200': json({ type: 'object' }), ...errors(401, 404) },
        },
      },
      '/api/v1/jobs/{job}/diff': {
        get: {
          parameters: [
            job,
            { name: 'a', in: 'query', required: true, schema: { type: 'string' } },
            { name: 'b', in: 'query', required: true, schema: { type: 'string' } },
          ],
          summary: 'diff of two builds: sources, outputs, metrics, parameters, checks, environment',
          responses: {
            '200': json({
              type: 'object',
              required: ['environment'],
              properties: { environment: ENVIRONMENT_DIFF_SCHEMA },
            }),
            ...errors(400, 401, 404),
          },
        },
      },
      '/api/v1/kernels': {
        get: {
          summary: 'kernelspecs on offer',
          responses: { '200': json({ type: 'object' }), ...errors(401) },
        },
      },
      '/api/v1/sessions/{session}/close': {
        post: {
          parameters: [{ name: 'session', in: 'path', required: true, schema: { type: 'string' } }],
          summary:
            "close a session: once its runs are done, its worker shuts the session's kernel down (200 when that happened within 30 s, else 202: it will)",
          responses: {
            '200': json({
              type: 'object',
              properties: { session: { type: 'string' }, closed: { const: true } },
            }),
            '202': json({
              type: 'object',
              properties: { session: { type: 'string' }, closed: { const: false } },
            }),
            ...errors(400, 401, 403),
          },
        },
      },
      '/api/v1/workers': {
        get: {
          summary: 'workers, their labels and sessions',
          responses: { '200': json({ type: 'array' }), ...errors(401) },
        },
      },
    }),
  };
}
