/**
 * Reading and writing notebook files: `.ipynb` (validated) and Zeppelin notes (converted), and
 * atomic writes so a reader never sees a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  NbstageError,
  NotebookInvalidError,
  firstLineOfMessage,
  readFailureReason,
} from '../errors';
import { detectFormat } from '../formats/detect';
import { validateZeppelinNote, zeppelinToNotebook } from '../formats/zeppelin';
import type { InterpreterTable, ZeppelinNote } from '../formats/zeppelin';
import { fileDepthProblem } from './json-depth';
import type { Notebook } from './model';
import { checkNotebook } from './check';

/** A notebook read from a file, with the format it came in. */
export interface LoadedNotebook {
  /** The notebook (converted, for a Zeppelin note). */
  notebook: Notebook;
  /** The file's format. */
  format: 'ipynb' | 'zeppelin';
  /** The original note, for writing results back (format `zeppelin` only). */
  zeppelin?: ZeppelinNote;
  /** What was repaired because it did not stop a run, one line each (see `checkNotebook`). */
  warnings: string[];
}

/** Options of {@link readNotebookFile}. */
export interface ReadNotebookOptions {
  /** Zeppelin interpreter table (defaults to `DEFAULT_INTERPRETERS`). */
  interpreters?: InterpreterTable;
}

/**
 * Writes a file atomically: the data goes to a temporary file in the same directory, is flushed
 * to disk, then renamed over the target. Parent directories are created.
 *
 * @param file - the target path
 * @param data - the contents (strings are written as UTF-8)
 * @param options - `mode` of the file (set on the temporary file before any data is written, so
 *   the contents are never readable by others) and `dirMode` of directories it creates
 */
export async function writeFileAtomic(
  file: string,
  data: string | Buffer,
  options: { mode?: number; dirMode?: number } = {},
): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, {
    recursive: true,
    ...(options.dirMode === undefined ? {} : { mode: options.dirMode }),
  });
  const temp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(temp, 'wx', options.mode);
    try {
      if (options.mode !== undefined) {
        // The umask can only remove bits, but a default ACL could add some: be explicit.
        await handle.chmod(options.mode);
      }
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * A notebook as nbformat writes it to disk: JSON with a one-space indent, keys in the order
 * given, and a trailing newline.
 */
export function serializeNotebook(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + '\n';
}

/** Writes a notebook file atomically (see {@link writeFileAtomic}). */
export async function writeNotebookFile(file: string, nb: Notebook): Promise<void> {
  await writeFileAtomic(file, serializeNotebook(nb));
}

/**
 * Reads a notebook file: an `.ipynb` notebook (checked against its nbformat schema: what cannot
 * run is refused, the rest repaired with a warning, see `checkNotebook`) or a
 * Zeppelin note (as `detectFormat` decides: `.zpln`, `note.json`, or any JSON with `paragraphs`
 * and no `cells`), which is converted with `zeppelinToNotebook`.
 *
 * @param file - the path of the file
 * @param options - the Zeppelin interpreter table
 * @throws NotebookInvalidError naming the file when it is missing, unreadable or invalid
 */
export async function readNotebookFile(
  file: string,
  options: ReadNotebookOptions = {},
): Promise<LoadedNotebook> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NotebookInvalidError(`${file}: cannot read notebook: ${readFailureReason(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new NotebookInvalidError(`${file}: not valid JSON: ${firstLineOfMessage(err)}`);
  }
  const tooDeep = fileDepthProblem(value);
  if (tooDeep !== null) {
    throw new NotebookInvalidError(`${file}: ${tooDeep}`);
  }
  if (detectFormat(file, value) === 'zeppelin') {
    const note = validateZeppelinNote(value, file);
    try {
      const notebook = zeppelinToNotebook(note, options.interpreters);
      return { notebook, format: 'zeppelin', zeppelin: note, warnings: [] };
    } catch (err) {
      if (err instanceof NbstageError) {
        throw new NotebookInvalidError(`${file}: ${err.message}`);
      }
      throw err;
    }
  }
  const checked = checkNotebook(value, file);
  return { notebook: checked.notebook, format: 'ipynb', warnings: checked.warnings };
}
