/**
 * The CLI loads only what a command uses: `nbstage --version` loads no command at all, and an
 * embedded `nbstage run` loads nothing of the service (express, BullMQ, ioredis, prom-client and
 * every module under server/ stay unloaded), nor the checks' image decoders and diff when it
 * compares no outputs. Checked on the real CLI with a preloaded script that
 * lists Node's module cache when the process exits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cleanupDirs, makeNotebook, runCli, tempDir, writeNotebook } from '../../helpers/notebooks';

const SERVICE_PACKAGES = ['express', 'bullmq', 'ioredis', 'prom-client', 'multer', 'jenkins'];
/** What only a run compared with a baseline needs. */
const CHECK_PACKAGES = ['pngjs', 'pixelmatch', 'jpeg-js', 'diff'];

/** Writes a preload script that records the loaded modules into `out` at exit. */
function modulesRecorder(dir: string, out: string): string {
  const file = path.join(dir, 'record-modules.js');
  fs.writeFileSync(
    file,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, ` +
      `JSON.stringify(Object.keys(require.cache))));\n`,
  );
  return file;
}

interface Loaded {
  /** Modules of nbstage itself, relative to the compiled tree (`cli/main.js`). */
  own: string[];
  /** npm packages. */
  packages: Set<string>;
}

function loadedModules(out: string): Loaded {
  const files = JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
  const dist = `${path.sep}dist${path.sep}`;
  const own = files
    .filter((f) => !f.includes('node_modules') && f.includes(dist))
    .map((f) => f.slice(f.indexOf(dist) + dist.length));
  const packages = new Set(
    files
      .filter((f) => f.includes(`node_modules${path.sep}`))
      .map((f) => {
        const parts = f.split(`node_modules${path.sep}`).pop()!.split(path.sep);
        return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
      }),
  );
  return { own, packages };
}

async function cliModules(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Loaded> {
  const dir = tempDir();
  const out = path.join(dir, 'modules.json');
  const result = await runCli(args, {
    env: { NODE_OPTIONS: `--require ${modulesRecorder(dir, out)}`, ...env },
  });
  expect(result.stderr).not.toMatch(/internal error/);
  expect(result.code).toBe(0);
  return loadedModules(out);
}

describe('what the CLI loads', () => {
  afterAll(cleanupDirs);

  it('--version loads the command line and no command', async () => {
    const { own, packages } = await cliModules(['--version']);
    expect(own).toContain('cli/main.js');
    expect(own.filter((f) => f.startsWith('cli/') && f !== 'cli/main.js')).toEqual([]);
    expect(own.filter((f) => f.startsWith('server/') || f.startsWith('kernels/provider'))).toEqual(
      [],
    );
    expect([...packages]).toEqual(['commander']);
  });

  it('an embedded run loads no module of the service', async () => {
    const nb = writeNotebook(makeNotebook(['print(6 * 7)']));
    const { own, packages } = await cliModules(['run', '--no-progress', nb], {
      NBSTAGE_JUPYTER_URL: '',
    });
    // It did run: the executor and a kernel client were loaded.
    expect(own).toEqual(expect.arrayContaining(['cli/run-command.js', 'kernels/kernel-client.js']));
    expect(own.filter((f) => f.startsWith('server/') || f.startsWith('client/'))).toEqual([]);
    expect(SERVICE_PACKAGES.filter((p) => packages.has(p))).toEqual([]);
    // A run without a baseline loads no image decoder or diff of the checks.
    expect(CHECK_PACKAGES.filter((p) => packages.has(p))).toEqual([]);
  });
});
