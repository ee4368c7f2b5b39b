/**
 * The web page's static files (stylesheets, the few scripts), served at `/assets/<name>` from
 * `server/web/assets/` and the report stylesheet from `pipelines/reports/`. tsc does not copy
 * them into `dist/`, so they are found from the package root, which both the sources and the
 * compiled `dist/server/web/` reach by walking up to `package.json`. Only files named in the
 * table are served: a request never names a path on disk.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';

/** Served files: URL name -> path relative to the package root, and content type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  'web.css': { file: 'server/web/assets/web.css', type: 'text/css; charset=utf-8' },
  'report.css': { file: 'pipelines/reports/report.css', type: 'text/css; charset=utf-8' },
  'frame.css': { file: 'server/web/assets/frame.css', type: 'text/css; charset=utf-8' },
  'web.js': { file: 'server/web/assets/web.js', type: 'text/javascript; charset=utf-8' },
  'live.js': { file: 'server/web/assets/live.js', type: 'text/javascript; charset=utf-8' },
  'frame.js': { file: 'server/web/assets/frame.js', type: 'text/javascript; charset=utf-8' },
};

let root: string | null = null;

/** The folder holding the package's `package.json`, above this module (sources or dist). */
export function packageRoot(): string {
  if (root === null) {
    let dir = __dirname;
    while (!existsSync(path.join(dir, 'package.json'))) {
      const up = path.dirname(dir);
      if (up === dir) {
        throw new Error(`no package.json above ${__dirname}`);
      }
      dir = up;
    }
    root = dir;
  }
  return root;
}

const cache = new Map<string, Buffer>();

/** The content of a served asset, or `null` for a name that is not one. */
export function assetContent(name: string): Buffer | null {
  const entry = Object.prototype.hasOwnProperty.call(FILES, name) ? FILES[name] : undefined;
  if (entry === undefined) {
    return null;
  }
  let data = cache.get(name);
  if (data === undefined) {
    data = readFileSync(path.join(packageRoot(), entry.file));
    cache.set(name, data);
  }
  return data;
}

/**
 * Serves `/assets/:name` without authentication (nothing in them is private, and sandboxed
 * output frames, which send no cookie, load them too); an unknown name gets 404.
 */
export function serveAsset(req: Request, res: Response): void {
  const name = String(req.params.name ?? '');
  const data = assetContent(name);
  if (data === null) {
    res.status(404).type('text/plain').send('no such asset\n');
    return;
  }
  res
    .status(200)
    .type(FILES[name].type)
    .set('Cache-Control', 'no-cache')
    .set('X-Content-Type-Options', 'nosniff')
    .send(data);
}
