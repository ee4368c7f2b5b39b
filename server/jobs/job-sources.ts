/**
 * The notebooks submitted as Jenkins jobs, kept in the nbstage home so that agents can fetch
 * them (`nbstage fetch`, `GET /api/v1/jobs/:job/source`): `<home>/jobs/<sha256 of the job
 * name>/` holds the content under its own sha256 and `source.json` naming it. Both are written
 * atomically, content first, so a crash leaves either the old source or the new one, never a
 * mix; older contents are removed once the new `source.json` is in place.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import Ajv from 'ajv';
import { CorruptedFileError, PayloadTooLargeError } from '../../pipelines/errors';
import { writeFileAtomic } from '../../pipelines/notebook/io';

/** The largest source accepted (bytes). */
export const MAX_SOURCE_BYTES = 16 * 1024 * 1024;

/** A stored source. */
export interface JobSource {
  job: string;
  /** The submitted file name (`train.ipynb`, `note.zpln`). */
  name: string;
  content: Buffer;
  sha256: string;
  /** ISO time it was stored. */
  savedAt: string;
}

type SourceMeta = Omit<JobSource, 'content'> & { size: number };

const metaSchema = {
  type: 'object',
  required: ['job', 'name', 'sha256', 'savedAt', 'size'],
  properties: {
    job: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    savedAt: { type: 'string' },
    size: { type: 'integer', minimum: 0 },
  },
};
const validateMeta = new Ajv({ strict: false }).compile<SourceMeta>(metaSchema);

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The submitted notebooks of every job. */
export class JobSourceStore {
  constructor(private readonly root: string) {}

  private dir(job: string): string {
    return path.join(this.root, sha256(job));
  }

  /**
   * Stores a job's source, replacing the previous one.
   *
   * @throws PayloadTooLargeError over {@link MAX_SOURCE_BYTES}
   */
  async save(job: string, name: string, content: Buffer): Promise<JobSource> {
    if (content.length > MAX_SOURCE_BYTES) {
      throw new PayloadTooLargeError(
        `the notebook is ${content.length} bytes; a job's source may have ${MAX_SOURCE_BYTES}`,
      );
    }
    const dir = this.dir(job);
    const hash = sha256(content);
    const meta: SourceMeta = {
      job,
      name,
      sha256: hash,
      savedAt: new Date().toISOString(),
      size: content.length,
    };
    await writeFileAtomic(path.join(dir, hash), content, { dirMode: 0o700 });
    await writeFileAtomic(path.join(dir, 'source.json'), `${JSON.stringify(meta, null, 1)}\n`);
    for (const entry of await readdir(dir)) {
      if (/^[0-9a-f]{64}$/.test(entry) && entry !== hash) {
        await unlink(path.join(dir, entry)).catch(() => undefined);
      }
    }
    return { ...meta, content };
  }

  /**
   * A job's source, or null when none was submitted.
   *
   * @throws CorruptedFileError when the stored files are not what this store wrote
   */
  async load(job: string): Promise<JobSource | null> {
    const file = path.join(this.dir(job), 'source.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return null;
      }
      throw err;
    }
    let meta: unknown;
    try {
      meta = JSON.parse(text);
    } catch {
      throw new CorruptedFileError(file, 'source.json', `${file}: not JSON`);
    }
    if (!validateMeta(meta) || meta.job !== job) {
      throw new CorruptedFileError(file, 'source.json', `${file}: not a job source record`);
    }
    const content = await readFile(path.join(this.dir(job), meta.sha256));
    if (sha256(content) !== meta.sha256) {
      throw new CorruptedFileError(file, 'sha256', `${file}: the stored notebook does not match`);
    }
    return {
      job: meta.job,
      name: meta.name,
      sha256: meta.sha256,
      savedAt: meta.savedAt,
      content,
    };
  }
}
