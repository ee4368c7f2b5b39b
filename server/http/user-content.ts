/**
 * Bytes a notebook or a user chose, served from the service's own origin, must never script it:
 * a script running there acts as whoever opened the URL (the CSRF rule cannot stop a same-origin
 * script). So every API response, and with it every report file, artifact, notebook and job
 * source, goes out with `X-Content-Type-Options: nosniff` and a policy that sandboxes the
 * document and lets it load nothing (`default-src 'none'; sandbox`: an opaque origin, no
 * script, no plugin, no form). Images and stylesheets still load where a page embeds them: a
 * policy on an `<img>` or `<link rel=stylesheet>` response does not apply to the embedding page.
 * The HTML report alone is served under Jenkins' policy instead, which lets it load its own
 * stylesheet and images and run nothing. SVG, the one image format that can hold script, is
 * also sent as an attachment, so that opening it directly downloads it instead of rendering it.
 */
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/** The policy of everything under `/api`: a sandboxed document that may load nothing. */
export const USER_CONTENT_CSP = "default-src 'none'; sandbox";

/**
 * Jenkins' default policy for archived HTML (`hudson.model.DirectoryBrowserSupport.CSP`), under
 * which the HTML report is served here too: it must read the same in both places.
 */
export const REPORT_CSP =
  "sandbox allow-same-origin; default-src 'none'; img-src 'self'; style-src 'self';";

/** Report files and their content types; anything else is sent as `application/octet-stream`. */
const REPORT_FILE_TYPES: Readonly<Record<string, string>> = {
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
};

/** Types a browser would run script in when it opens them directly. */
const ACTIVE_TYPES = new Set(['image/svg+xml']);

/** Middleware: `nosniff` and {@link USER_CONTENT_CSP} on every response (a route may narrow). */
export function userContentHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': USER_CONTENT_CSP,
  });
  next();
}

/**
 * Sends one file of the HTML report (`report_files/<name>`): its type from its extension in a
 * fixed table, SVG as an attachment. The headers of {@link userContentHeaders} stay.
 */
export function sendReportFile(res: Response, name: string, data: Buffer | string): void {
  const type = REPORT_FILE_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
  if (ACTIVE_TYPES.has(type)) {
    res.attachment(path.basename(name));
  }
  res.type(type).send(data);
}
