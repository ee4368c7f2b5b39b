/**
 * Where nbstage itself is installed: the folder holding its package.json, and its version.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The folder holding nbstage's package.json (and `bin/nbstage.js`), found by walking up from this
 * file, so it is the same from the TypeScript sources and from `dist/`. Requiring the bin as well
 * keeps a `package.json` that tsc copies into `dist/` from being mistaken for the root.
 */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (
      fs.existsSync(path.join(dir, 'package.json')) &&
      fs.existsSync(path.join(dir, 'bin', 'nbstage.js'))
    ) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`nbstage package root not found above ${__dirname}`);
    }
    dir = parent;
  }
}

let version: string | undefined;

/** nbstage's version, from its package.json (read once). */
export function nbstageVersion(): string {
  version ??= (
    JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return version;
}
