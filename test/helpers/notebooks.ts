/**
 * Builds small notebooks for tests, each in its own temp folder (`test-<uuid>`), and runs the
 * real CLI on them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Cell, Notebook } from '../../pipelines/notebook/model';
import { tempDir } from './temp-dirs';

export { cleanupDirs, gateFile, tempDir } from './temp-dirs';

/** A cell description: source, plus optional tags and metadata. */
export interface CellSpec {
  source: string;
  type?: 'code' | 'markdown';
  tags?: string[];
  metadata?: Record<string, unknown>;
}

/** An nbformat 4.5 notebook of the given cells. */
export function makeNotebook(cells: (string | CellSpec)[], kernel = 'python3'): Notebook {
  const language = kernel === 'bash' ? 'bash' : 'python';
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: kernel, display_name: kernel, language },
      language_info: { name: language },
    },
    cells: cells.map((c, i): Cell => {
      const spec = typeof c === 'string' ? { source: c } : c;
      const metadata = { ...(spec.metadata ?? {}), ...(spec.tags ? { tags: spec.tags } : {}) };
      if (spec.type === 'markdown') {
        return { cell_type: 'markdown', id: `c${i}`, source: spec.source, metadata };
      }
      return {
        cell_type: 'code',
        id: `c${i}`,
        source: spec.source,
        metadata: metadata as Cell['metadata'],
        execution_count: null,
        outputs: [],
      };
    }),
  };
}

/** Writes a notebook into a new temp folder and returns its path. */
export function writeNotebook(nb: Notebook | string, name = 'nb.ipynb', dir = tempDir()): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof nb === 'string' ? nb : JSON.stringify(nb, null, 1));
  return file;
}

/** Reads a JSON file. */
export function readJson<T = Notebook>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** The result of a CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const BIN = path.resolve(__dirname, '../../bin/nbstage.js');

/** Runs `nbstage <args>`; `onSpawn` gets the child (to signal it). */
export function runCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void;
    timeoutMs?: number;
  } = {},
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(d.toString(), child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * An `onStdout` for {@link runCli} that sends `signal` to the CLI the first time its stdout
 * matches `pattern`; `sentAt()` is when it did (0 while it has not).
 */
export function signalOnOutput(
  pattern: RegExp,
  signal: NodeJS.Signals,
): {
  onStdout: (chunk: string, child: ReturnType<typeof spawn>) => void;
  sentAt: () => number;
} {
  let sentAt = 0;
  return {
    onStdout: (chunk, child) => {
      if (sentAt === 0 && pattern.test(chunk)) {
        sentAt = Date.now();
        child.kill(signal);
      }
    },
    sentAt: () => sentAt,
  };
}

/** The text of all outputs of cell `index` of an executed notebook (streams, text/plain, errors). */
export function cellText(nb: Notebook, index: number): string {
  const cell = nb.cells[index];
  if (cell.cell_type !== 'code') {
    return '';
  }
  return cell.outputs
    .map((o) => {
      if (o.output_type === 'stream') {
        return Array.isArray(o.text) ? o.text.join('') : o.text;
      }
      if (o.output_type === 'error') {
        return `${o.ename}: ${o.evalue}`;
      }
      const plain = o.data['text/plain'];
      return Array.isArray(plain) ? plain.join('') : String(plain ?? '');
    })
    .join('');
}
