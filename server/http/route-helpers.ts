/**
 * What the API's routers share: async handlers that pass errors on, path parameters, the
 * notebook upload (JSON, or multipart with a `notebook` file and an `options` JSON field).
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { ValidationError } from '../../pipelines/errors';
import { checkRequestDepth } from '../../pipelines/notebook/json-depth';

/** An async route handler. */
export type AsyncHandler = (req: Request, res: Response) => Promise<void>;

/** A handler whose rejections go to the app's error handler. */
export function wrap(fn: AsyncHandler): RequestHandler {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}

/** A path parameter as one string (a wildcard's segments joined with `/`). */
export function param(req: Request, name: string): string {
  const value = req.params[name];
  return Array.isArray(value) ? value.join('/') : String(value ?? '');
}

/**
 * The body parsers of a route taking a notebook: multipart (one `notebook` file up to
 * `limitBytes`) or JSON (up to `jsonLimitBytes`).
 */
export function notebookUpload(limitBytes: number, jsonLimitBytes = limitBytes): RequestHandler[] {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limitBytes, files: 1, fields: 4, fieldSize: 1024 * 1024 },
  });
  return [
    (req, res, next) =>
      req.is('multipart/form-data') ? upload.single('notebook')(req, res, next) : next(),
    // Any JSON value is parsed (not only objects), so that a body of `null` or `123` is told
    // what it is (valid JSON, but not an object) rather than "not valid JSON".
    express.json({ limit: jsonLimitBytes, strict: false }),
  ];
}

/**
 * What a JSON value is, for messages: `null`, `an array`, `a number`, ...
 */
function kindOf(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The request's body: the JSON body as sent, or for a multipart upload the `options` field's
 * object with `notebookName` (the file's name) and `notebook` (the file, parsed). Either is a
 * JSON object whose notebook and parameters nest at most `NBSTAGE_MAX_JSON_DEPTH` levels.
 *
 * @throws ValidationError when the file or the options are not JSON, the body or the options
 *   are not an object, or a field nests too deeply (the error names the field)
 */
export function notebookBody(req: Request): unknown {
  const body = uploadedBody(req);
  checkRequestDepth(body, 'body');
  return body;
}

function uploadedBody(req: Request): unknown {
  if (req.file === undefined) {
    const body: unknown = req.body;
    if (body === undefined) {
      throw new ValidationError(
        'body',
        'body: must be object: send a JSON object (Content-Type: application/json) or a multipart upload',
      );
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationError(
        'body',
        `body: must be object, got ${kindOf(body)} (valid JSON, but not a JSON object)`,
      );
    }
    return body;
  }
  let notebook: unknown;
  try {
    notebook = JSON.parse(req.file.buffer.toString('utf8'));
  } catch (err) {
    throw new ValidationError('notebook', `notebook: not JSON (${(err as Error).message})`);
  }
  let options: unknown = {};
  const raw = (req.body as { options?: unknown } | undefined)?.options;
  if (typeof raw === 'string' && raw !== '') {
    try {
      options = JSON.parse(raw);
    } catch {
      throw new ValidationError('options', 'options: not JSON');
    }
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new ValidationError('options', `options: must be object, got ${kindOf(options)}`);
    }
  }
  return { notebookName: req.file.originalname, ...(options as object), notebook };
}
