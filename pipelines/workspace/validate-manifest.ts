/**
 * Checks a manifest that arrives from outside (an HTTP body, a file read back): its shape with
 * ajv, then what a schema cannot say: every path relative and inside the root, no path twice,
 * no entry below another entry (a file, or a symlink the tree would be written through).
 * Errors are {@link ValidationError}s naming the field, `entries/3/path`.
 */
import Ajv, { type ErrorObject } from 'ajv';
import { ValidationError } from '../errors';
import { validateRelativePath } from '../paths/relative-path';
import { DEFAULT_MAX_WORKSPACE_FILES, MAX_WORKSPACE_PATH_LENGTH } from './limits';
import { MANIFEST_VERSION, createManifest, type Manifest } from './manifest';

const FILE_SCHEMA = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    type: { const: 'file' },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    size: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    mode: { type: 'integer', minimum: 0, maximum: 0o777 },
  },
  required: ['path', 'type', 'sha256', 'size', 'mode'],
  additionalProperties: false,
};

const SYMLINK_SCHEMA = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    type: { const: 'symlink' },
    target: { type: 'string', minLength: 1, maxLength: MAX_WORKSPACE_PATH_LENGTH },
  },
  required: ['path', 'type', 'target'],
  additionalProperties: false,
};

/** The JSON schema of a manifest (version 1), for the OpenAPI document too. */
export const MANIFEST_SCHEMA = {
  type: 'object',
  properties: {
    version: { const: MANIFEST_VERSION },
    entries: {
      type: 'array',
      items: {
        type: 'object',
        discriminator: { propertyName: 'type' },
        required: ['type'],
        oneOf: [FILE_SCHEMA, SYMLINK_SCHEMA],
      },
    },
  },
  required: ['version', 'entries'],
  additionalProperties: false,
};

const validateShape = new Ajv({ allErrors: false, discriminator: true }).compile(MANIFEST_SCHEMA);

/** The field an ajv error is about, without the leading `/`: `entries/3/sha256`. */
function fieldOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const base = error.instancePath.replace(/^\//, '');
  const join = (name: unknown): string => (base === '' ? String(name) : `${base}/${String(name)}`);
  if (error.keyword === 'required') {
    return join(params.missingProperty);
  }
  if (error.keyword === 'additionalProperties') {
    return join(params.additionalProperty);
  }
  if (error.keyword === 'discriminator') {
    return join(params.tag);
  }
  return base === '' ? 'manifest' : base;
}

/** The reason of an ajv error, in words. */
function reasonOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return 'is not a field of a manifest entry';
    case 'discriminator':
      return 'must be "file" or "symlink"';
    case 'pattern':
      return 'must be 64 lowercase hex digits (a sha256)';
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    default:
      return error.message ?? 'is invalid';
  }
}

/** The manifests {@link validateManifest} returned (frozen by `createManifest`). */
const validated = new WeakSet<Manifest>();

/** Options of {@link validateManifest}. */
export interface ValidateManifestOptions {
  /** The most entries accepted; default {@link DEFAULT_MAX_WORKSPACE_FILES}. */
  readonly maxEntries?: number;
}

/**
 * Checks a manifest and returns it in canonical form (sorted by path, see `createManifest`);
 * the entries may arrive in any order, the digest does not depend on it. The manifest returned
 * is frozen and remembered: validating it again returns it at once.
 *
 * @throws ValidationError naming the field (`entries/3/path`, `entries/0/sha256`, `version`)
 */
export function validateManifest(value: unknown, options: ValidateManifestOptions = {}): Manifest {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_WORKSPACE_FILES;
  const entries = (value as { entries?: unknown } | null)?.entries;
  if (Array.isArray(entries) && entries.length > maxEntries) {
    throw new ValidationError(
      'entries',
      `entries: ${entries.length} entries, more than the ${maxEntries} a manifest may hold`,
    );
  }
  if (validated.has(value as Manifest)) {
    // Checked before, and frozen since: a manifest read once is not checked at every step.
    return value as Manifest;
  }
  if (!validateShape(value)) {
    const error = validateShape.errors?.[0];
    const field = error === undefined ? 'manifest' : fieldOf(error);
    const why = error === undefined ? 'is invalid' : reasonOf(error);
    throw new ValidationError(field, `${field} ${why}`);
  }
  const manifest = value as unknown as Manifest;
  checkPaths(manifest);
  const checked = createManifest(manifest.entries);
  validated.add(checked);
  return checked;
}

/** The checks ajv cannot express, over every entry. */
function checkPaths(manifest: Manifest): void {
  const index = new Map<string, number>();
  manifest.entries.forEach((entry, i) => {
    const field = `entries/${i}/path`;
    validateRelativePath(entry.path, field, {
      folder: 'the workspace',
      maxLength: MAX_WORKSPACE_PATH_LENGTH,
    });
    const first = index.get(entry.path);
    if (first !== undefined) {
      throw new ValidationError(
        field,
        `${field}: ${JSON.stringify(entry.path)} is listed twice (also entries/${first}/path)`,
      );
    }
    index.set(entry.path, i);
    if (entry.type === 'symlink' && entry.target.includes('\0')) {
      throw new ValidationError(`entries/${i}/target`, `entries/${i}/target must not hold NUL`);
    }
  });
  manifest.entries.forEach((entry, i) => {
    const parts = entry.path.split('/');
    for (let n = 1; n < parts.length; n++) {
      const above = parts.slice(0, n).join('/');
      const j = index.get(above);
      if (j !== undefined) {
        const what = manifest.entries[j].type === 'symlink' ? 'a symlink' : 'a file';
        throw new ValidationError(
          `entries/${i}/path`,
          `entries/${i}/path: ${JSON.stringify(entry.path)} lies below ${JSON.stringify(above)}, ` +
            `which entries/${j} lists as ${what}; a path cannot be both, nor be written through a link`,
        );
      }
    }
  });
}
