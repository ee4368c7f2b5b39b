/**
 * The `tokens.json` file of nbstage's home: its JSON schema, validation with ajv on every read
 * (a hand-edited or truncated file is an error naming the file and the field), and writing it
 * back atomically with mode 0600.
 */
import { readFile, stat } from 'node:fs/promises';
import Ajv from 'ajv';
import type { ErrorObject, JSONSchemaType } from 'ajv';
import { CorruptedFileError } from '../../pipelines/errors';
import { writePrivateFileAtomic } from './private-file';
import { ROLES } from './types';
import type { TokenRecord } from './types';

/** The contents of `tokens.json`. */
export interface TokenFile {
  /** Format version; this code reads and writes 1. */
  version: 1;
  /** The tokens, oldest first. */
  tokens: TokenRecord[];
}

/** What identifies one version of the file on disk; a change means another process wrote it. */
export type FileStamp = string;

const SCHEMA: JSONSchemaType<TokenFile> = {
  type: 'object',
  properties: {
    version: { type: 'integer', const: 1 },
    tokens: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: '^[0-9a-f]{12}$' },
          name: { type: 'string', minLength: 1, maxLength: 200 },
          role: { type: 'string', enum: [...ROLES] },
          createdAt: { type: 'string', minLength: 1 },
          lastUsedAt: { type: 'string', minLength: 1, nullable: true },
          hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        },
        required: ['id', 'name', 'role', 'createdAt', 'hash'],
        additionalProperties: false,
      },
    },
  },
  required: ['version', 'tokens'],
  additionalProperties: false,
};

const validate = new Ajv({ allErrors: false }).compile(SCHEMA);

/** The JSON path of an ajv error, with the missing or extra property when there is one. */
function fieldOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const base = error.instancePath === '' ? '' : error.instancePath;
  if (error.keyword === 'required') {
    return `${base}/${String(params.missingProperty)}`;
  }
  if (error.keyword === 'additionalProperties') {
    return `${base}/${String(params.additionalProperty)}`;
  }
  return base === '' ? '/' : base;
}

/**
 * Checks parsed JSON against the schema of `tokens.json`.
 *
 * @param file - the file it came from, for the error message
 * @throws CorruptedFileError naming the file and the JSON path of the first problem
 */
export function validateTokenFile(file: string, value: unknown): TokenFile {
  if (validate(value)) {
    const ids = new Set<string>();
    value.tokens.forEach((record, index) => {
      if (ids.has(record.id)) {
        throw new CorruptedFileError(
          file,
          `/tokens/${index}/id`,
          `${file}: /tokens/${index}/id repeats token id ${record.id}`,
        );
      }
      ids.add(record.id);
    });
    return value;
  }
  const error = validate.errors?.[0];
  const field = error === undefined ? '/' : fieldOf(error);
  const what =
    error?.keyword === 'required'
      ? 'is missing'
      : error?.keyword === 'additionalProperties'
        ? 'is not allowed'
        : (error?.message ?? 'is invalid');
  throw new CorruptedFileError(file, field, `${file}: ${field} ${what}`);
}

/** The stamp of the file now, or `missing`. Atomic writes rename, so the inode changes too. */
export async function tokenFileStamp(file: string): Promise<FileStamp> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return 'missing';
    }
    throw err;
  }
}

/**
 * Reads and validates `tokens.json`. A missing file holds no tokens.
 *
 * @throws CorruptedFileError when the file is not JSON or not valid
 */
export async function readTokenFile(file: string): Promise<{ data: TokenFile; stamp: FileStamp }> {
  // Stamp first: if a writer replaces the file between the two calls, the next check reloads.
  const stamp = await tokenFileStamp(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { data: { version: 1, tokens: [] }, stamp: 'missing' };
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorruptedFileError(file, '/', `${file}: not valid JSON (${(err as Error).message})`);
  }
  return { data: validateTokenFile(file, parsed), stamp };
}

/** Writes `tokens.json` atomically with mode 0600 and returns its new stamp. */
export async function writeTokenFile(file: string, data: TokenFile): Promise<FileStamp> {
  await writePrivateFileAtomic(file, JSON.stringify(data, null, 2) + '\n');
  return tokenFileStamp(file);
}
