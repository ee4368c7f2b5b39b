/**
 * The content store over HTTP, for workspaces (DESIGN "Workspaces: transfer by content"): a
 * client asks which of its digests the service lacks (`POST /blobs/missing`: the manifest's
 * digest alone first, then all of them when the service lacks the manifest), uploads only those,
 * each as the raw body of `PUT /blobs/{sha256}` (streamed to disk, hashed on the way, refused and
 * not stored when the content is not what the digest says), and fetches what a run wrote with
 * `GET /blobs/{sha256}`. Blobs share the store with the artifacts, so a file that came back from
 * a run is never uploaded again. Asking and uploading need role run (what creating a run needs);
 * reading needs read, as reading a run's artifacts does.
 */
import Ajv from 'ajv';
import express, { type RequestHandler, type Router } from 'express';
import { NotFoundError, UnavailableError, ValidationError } from '../../pipelines/errors';
import { DEFAULT_MAX_WORKSPACE_FILES } from '../../pipelines/workspace/limits';
import type { BlobDir } from '../../pipelines/workspace/blob-dir';
import { manifestCache } from '../runs/manifest-cache';
import { readManifest } from '../runs/run-workspace';
import { bodyField } from './body-field';
import { param, wrap } from './route-helpers';

/** Most bytes of one uploaded blob, unless `NBSTAGE_MAX_BLOB_BYTES` says otherwise: 4 GiB. */
export const DEFAULT_MAX_BLOB_BYTES = 4 * 1024 ** 3;

const SHA256 = '^[0-9a-f]{64}$';

/** JSON schema of the body of `POST /api/v1/blobs/missing`. */
export const missingBlobsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['digests'],
  properties: {
    digests: {
      type: 'array',
      items: { type: 'string', pattern: SHA256 },
      maxItems: DEFAULT_MAX_WORKSPACE_FILES + 1,
      description: 'sha256 digests (64 lowercase hex digits) the client could upload',
    },
    manifest: {
      type: 'string',
      pattern: SHA256,
      description:
        "a workspace manifest's digest: when the store has that manifest, the answer also lists the contents it names that the store lacks, so a client whose workspace did not change sends one digest instead of all of them",
    },
    inPlace: {
      type: 'object',
      additionalProperties: false,
      required: ['hostId', 'labels'],
      description:
        "the caller's host and the in-place labels of its workspace's folders: when a worker of that host runs one of them in place, the answer names it and nothing needs uploading",
      properties: {
        hostId: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,59}$' },
        labels: {
          type: 'array',
          items: { type: 'string', pattern: '^inplace\\.[0-9a-f]{24}$' },
          maxItems: 256,
        },
      },
    },
  },
} as const;

const validateMissing = new Ajv({ allErrors: false, strict: false }).compile<{
  digests: string[];
  manifest?: string;
  inPlace?: { hostId: string; labels: string[] };
}>(missingBlobsSchema);

/** Options of {@link blobRoutes}. */
export interface BlobRouteOptions {
  blobs: BlobDir;
  /** Guards of role run (asking, uploading) and read (fetching). */
  runRole: RequestHandler;
  /** Most bytes of one blob. */
  maxBlobBytes: number;
  /** Whether the service is shutting down (uploads are refused then, as new runs are). */
  draining: () => boolean;
  /** The first of `labels` a live worker of host `hostId` has (it runs that folder in place). */
  inPlaceWorker?: (hostId: string, labels: readonly string[]) => Promise<string | null>;
}

/** `NBSTAGE_MAX_BLOB_BYTES` (bytes), else the default. @throws ValidationError naming it */
export function maxBlobBytesOf(env: NodeJS.ProcessEnv): number {
  const raw = env.NBSTAGE_MAX_BLOB_BYTES;
  if (raw === undefined || raw === '') {
    return DEFAULT_MAX_BLOB_BYTES;
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ValidationError(
      'NBSTAGE_MAX_BLOB_BYTES',
      `NBSTAGE_MAX_BLOB_BYTES: must be a positive number of bytes, got "${raw}"`,
    );
  }
  return value;
}

/** The digest of a blob route, checked. */
function digestOf(value: string): string {
  if (!new RegExp(SHA256).test(value)) {
    throw new ValidationError(
      'sha256',
      `sha256: ${JSON.stringify(value.slice(0, 80))} is not 64 lowercase hex digits`,
    );
  }
  return value;
}

/** The routes under `/api/v1/blobs`. */
export function blobRoutes(options: BlobRouteOptions): Router {
  const { blobs } = options;
  const router = express.Router();
  router.post(
    '/blobs/missing',
    options.runRole,
    express.json({ limit: '24mb' }),
    wrap(async (req, res) => {
      const body: unknown = req.body;
      if (!validateMissing(body)) {
        const err = validateMissing.errors?.[0];
        const where = bodyField(err);
        throw new ValidationError(where, `${where}: ${err?.message ?? 'invalid'}`);
      }
      const missing = new Set(body.digests.filter((d) => !blobs.has(d)));
      if (body.manifest !== undefined && blobs.has(body.manifest)) {
        const manifest = readManifest(body.manifest, blobs, 'body.manifest');
        for (const entry of manifestCache.missingContents(body.manifest, manifest, blobs)) {
          missing.add(entry.sha256);
        }
      } else if (body.manifest !== undefined) {
        missing.add(body.manifest);
      }
      const inPlace =
        body.inPlace === undefined || options.inPlaceWorker === undefined
          ? null
          : await options.inPlaceWorker(body.inPlace.hostId, body.inPlace.labels);
      const answer = [...missing];
      res.json(inPlace === null ? { missing: answer } : { missing: answer, inPlace });
    }),
  );
  router.put(
    '/blobs/:sha256',
    options.runRole,
    wrap(async (req, res) => {
      if (options.draining()) {
        req.resume();
        throw new UnavailableError('the service is shutting down; no new uploads');
      }
      const sha256 = digestOf(param(req, 'sha256'));
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > options.maxBlobBytes) {
        req.resume();
        throw new ValidationError(
          'content-length',
          `content-length: ${declared} bytes is over the limit of one blob (${options.maxBlobBytes} bytes, NBSTAGE_MAX_BLOB_BYTES)`,
        );
      }
      if (blobs.has(sha256)) {
        // Known content is not read again: the client learns it and stops sending.
        req.resume();
        res.status(200).json({ sha256, stored: false });
        return;
      }
      const stored = await blobs.put(req, sha256, { maxBytes: options.maxBlobBytes });
      res.status(201).json({ sha256: stored.sha256, size: stored.size, stored: true });
    }),
  );
  router.get('/blobs/:sha256', (req, res) => {
    const sha256 = digestOf(param(req, 'sha256'));
    const file = blobs.path(sha256);
    if (file === null) {
      throw new NotFoundError(`no blob ${sha256}`);
    }
    res.type('application/octet-stream').sendFile(file, { dotfiles: 'allow' });
  });
  return router;
}
