/**
 * Writes a run's files when it ends, whatever the outcome: the executed notebook, the JUnit
 * XML, the HTML report and the executed Zeppelin note. Each write is atomic, so a reader never
 * sees a half-written file.
 */
import path from 'node:path';
import type { ZeppelinNote } from '../formats/zeppelin';
import { notebookToZeppelin } from '../formats/zeppelin';
import { serializeNotebook, writeFileAtomic } from '../notebook/io';
import { writeHtmlReport } from '../reports/html';
import { renderJUnit } from '../reports/junit';
import type { RunEventListener } from '../executor/events';

/** Where to write what (each optional). */
export interface FileSinkPaths {
  notebook?: string;
  junit?: string;
  html?: string;
  zeppelin?: string;
}

/** Options of {@link createFileSink}. */
export interface FileSinkOptions {
  paths: FileSinkPaths;
  /** Name of the input notebook (JUnit suite/class names, report title). */
  notebookName: string;
  /** The original Zeppelin note, needed for `paths.zeppelin`. */
  zeppelin?: ZeppelinNote;
  /** Called with each path written. */
  onWrite?: (kind: keyof FileSinkPaths, file: string) => void;
}

/** A listener that writes the run's files on run-end. */
export function createFileSink(options: FileSinkOptions): RunEventListener {
  return async (event) => {
    if (event.type !== 'run-end') {
      return;
    }
    const nb = event.notebook;
    const { paths } = options;
    const writes: Promise<void>[] = [];
    const wrote = (kind: keyof FileSinkPaths, file: string): void => options.onWrite?.(kind, file);
    if (paths.notebook !== undefined) {
      const file = paths.notebook;
      writes.push(writeFileAtomic(file, serializeNotebook(nb)).then(() => wrote('notebook', file)));
    }
    if (paths.junit !== undefined) {
      const file = paths.junit;
      const suiteName = options.notebookName.replace(/\.[^.]+$/, '');
      const xml = renderJUnit(nb, { suiteName, notebookName: suiteName });
      writes.push(writeFileAtomic(file, xml).then(() => wrote('junit', file)));
    }
    if (paths.html !== undefined) {
      const file = paths.html;
      writes.push(writeHtmlReport(file, nb, options.notebookName).then(() => wrote('html', file)));
    }
    if (paths.zeppelin !== undefined && options.zeppelin !== undefined) {
      const file = paths.zeppelin;
      const note = notebookToZeppelin(options.zeppelin, nb);
      writes.push(
        writeFileAtomic(file, `${JSON.stringify(note, null, 2)}\n`).then(() =>
          wrote('zeppelin', file),
        ),
      );
    }
    await Promise.all(writes);
  };
}

/** The default executed-notebook path for an input: `<dir>/<name>.executed.ipynb`. */
export function defaultOutputPath(input: string): string {
  const parsed = path.parse(input);
  const base = parsed.base === 'note.json' ? path.basename(parsed.dir) || 'note' : parsed.name;
  return path.join(parsed.dir, `${base}.executed.ipynb`);
}
