/**
 * The whole output of cells whose output was cut by a limit, written as it arrives (never held
 * whole in memory) to `cell-<index>.txt.gz` files: gzip at its fastest level, since floods of
 * output are mostly repetition. The text is what the console shows (already masked). All files
 * of a run share one budget of compressed bytes; past it, or when the disk cannot keep up, a
 * file says what is missing instead of growing without bound.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { formatLimit } from './output-limits';

/** Bytes waiting for the compressor beyond which new text is dropped (and counted). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/**
 * Text is handed to the compressor in pieces of about this size: each write costs the event
 * loop a round trip to zlib's thread, and a flood arrives in thousands of small outputs.
 */
const BATCH_BYTES = 256 * 1024;

/** One cell's full-output file. */
export class FullOutputFile {
  private readonly gzip: zlib.Gzip;
  private readonly done: Promise<void>;
  private stopped: string | null = null;
  private dropped = 0;
  private ended = false;
  private atLineStart = true;
  private batch: string[] = [];
  private batchBytes = 0;

  constructor(
    readonly file: string,
    private readonly budget: { used: number; max: number },
  ) {
    this.gzip = zlib.createGzip({ level: zlib.constants.Z_BEST_SPEED });
    const out = fs.createWriteStream(file, { mode: 0o600 });
    this.gzip.on('data', (chunk: Buffer) => {
      this.budget.used += chunk.length;
    });
    this.done = new Promise<void>((resolve) => {
      out.on('close', () => resolve());
      out.on('error', () => resolve());
      this.gzip.on('error', () => {
        out.destroy();
        resolve();
      });
    });
    this.gzip.pipe(out);
  }

  /**
   * Appends text (it is dropped, and counted, past the budget or when the disk lags). A `block`
   * (a rich output, a traceback) starts on a line of its own, as on the console.
   */
  write(text: string, block = false): void {
    if (this.ended || text === '') {
      return;
    }
    if (block && !this.atLineStart) {
      text = `\n${text}`;
    }
    this.atLineStart = text.endsWith('\n');
    if (this.stopped === null && this.budget.max > 0 && this.budget.used >= this.budget.max) {
      this.stopped =
        `\n[nbstage: the full output stops here: the run's full-output files reached ` +
        `${formatLimit(this.budget.max)} compressed (NBSTAGE_MAX_FULL_OUTPUT)]\n`;
      this.flush();
      this.gzip.write(this.stopped);
    }
    if (this.stopped !== null || this.gzip.writableLength > MAX_PENDING_BYTES) {
      this.dropped += Buffer.byteLength(text, 'utf8');
      return;
    }
    this.batch.push(text);
    this.batchBytes += text.length;
    if (this.batchBytes >= BATCH_BYTES) {
      this.flush();
    }
  }

  private flush(): void {
    if (this.batch.length > 0) {
      this.gzip.write(this.batch.join(''));
      this.batch = [];
      this.batchBytes = 0;
    }
  }

  /** Finishes the file; resolves once it is on disk. Idempotent. */
  end(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      this.flush();
      if (this.dropped > 0) {
        this.gzip.write(
          `\n[nbstage: ${this.dropped} bytes of output are missing from this file` +
            (this.stopped === null ? ' (written faster than the disk took them)' : '') +
            ']\n',
        );
      }
      this.gzip.end();
    }
    return this.done;
  }
}

/** The full-output files of one run, in `dir` (none when `dir` is null). */
export class FullOutputFiles {
  private readonly files = new Map<number, FullOutputFile>();
  private readonly budget: { used: number; max: number };

  /**
   * @param dir - where the files go (created when the first one is); null keeps none
   * @param maxBytes - compressed bytes all files together may take (0: no limit)
   */
  constructor(
    private readonly dir: string | null,
    maxBytes: number,
  ) {
    this.budget = { used: 0, max: maxBytes };
  }

  /** Whether files are kept at all. */
  get enabled(): boolean {
    return this.dir !== null;
  }

  /** The file of cell `index`, opened on first use; null when files are not kept. */
  open(index: number): FullOutputFile | null {
    if (this.dir === null) {
      return null;
    }
    let file = this.files.get(index);
    if (file === undefined) {
      fs.mkdirSync(this.dir, { recursive: true });
      file = new FullOutputFile(path.join(this.dir, `cell-${index}.txt.gz`), this.budget);
      this.files.set(index, file);
    }
    return file;
  }

  /** The open file of cell `index`, if any. */
  get(index: number): FullOutputFile | null {
    return this.files.get(index) ?? null;
  }

  /** Finishes every file. */
  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.end()));
  }
}
