/**
 * What the API's routers share: async handlers that pass errors on, path parameters, the
 * notebook upload (JSON, or multipart with a `notebook` file and an `options` JSON field).
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { ValidationError } from '../../pipelines/errors';

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
    express.json({ limit: jsonLimitBytes }),
  ];
}

/**
 * The request's body: the JSON body as sent, or for a multipart upload the `options` field's
 * object with `notebookName` (the file's name) and `notebook` (the file, parsed).
 *
 * @throws ValidationError when the file or the options are not JSON
 */
export function notebookBody(req: Request): unknown {
  if (req.file === undefined) {
    return req.body;
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
  }
  return { notebookName: req.file.originalname, ...(options as object), notebook };
}
