/**
 * Masks secret values (`--secret NAME=VALUE`) as `****` in text, JSON values, cell outputs and
 * whole notebooks, before anything is streamed, stored or reported. Besides the plain value it masks the forms a
 * secret takes once escaped: inside JSON strings, in Python reprs and percent-encoded in URLs.
 * Each form is also masked with terminal escape codes between its characters (`form-matcher.ts`).
 */
import { splitLines } from '../notebook/model';
import { FormMatcher } from './form-matcher';
import type {
  Cell,
  JSONObject,
  JSONValue,
  MimeBundle,
  MultilineString,
  Notebook,
  Output,
} from '../notebook/model';

/** What a secret is replaced with. */
export const MASK = '****';

/** Mimetypes whose data is base64 binary, left alone (secrets in them are not text). */
function isBinaryMime(mime: string): boolean {
  if (mime.startsWith('image/')) {
    return mime !== 'image/svg+xml';
  }
  return (
    mime.startsWith('audio/') ||
    mime.startsWith('video/') ||
    mime === 'application/pdf' ||
    mime === 'application/octet-stream'
  );
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/** The body of a JSON string literal; with `ascii`, non-ASCII as `\uXXXX` (Python's json.dumps). */
function jsonEscaped(secret: string, ascii: boolean): string {
  const body = JSON.stringify(secret).slice(1, -1);
  return ascii ? body.replace(/[\u0080-\uffff]/g, (c) => `\\u${hex(c.charCodeAt(0), 4)}`) : body;
}

/** The body of Python's `repr(secret)`, for both quoting choices of repr. */
function pythonReprBodies(secret: string): string[] {
  let body = '';
  for (const ch of secret) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') {
      body += '\\\\';
    } else if (ch === '\n') {
      body += '\\n';
    } else if (ch === '\r') {
      body += '\\r';
    } else if (ch === '\t') {
      body += '\\t';
    } else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) {
      body += `\\x${hex(code, 2)}`;
    } else {
      body += ch;
    }
  }
  // repr uses '...' (escaping ') unless the text has ' and no ", then "..." (escaping nothing).
  return [body, body.replace(/'/g, "\\'")];
}

/** The secret as `encodeURIComponent` writes it (passwords in URLs), if it can be encoded. */
function percentEncoded(secret: string): string | undefined {
  try {
    return encodeURIComponent(secret);
  } catch {
    return undefined; // lone surrogates cannot be percent-encoded
  }
}

/**
 * Replaces secrets with {@link MASK}. Longest secrets are matched first, so a secret that
 * contains another is masked whole. A form also matches with terminal escape sequences between
 * its characters (`ab\x1b[31mcd` for `abcd`; a bounded number in a row), and the whole span,
 * escapes included, becomes the mask; sequences before or after it are kept. With no secrets
 * every method returns its input unchanged.
 */
export class Masker {
  /** Whether there is anything to mask; callers may skip masking when false. */
  readonly active: boolean;
  /** Every text form masked (the secrets and their escaped forms), longest first. */
  readonly forms: readonly string[];
  private readonly pattern: FormMatcher | null;

  /**
   * @param secrets - the secret values; empty strings are ignored
   */
  constructor(secrets: string[]) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret.length < 1) {
        continue;
      }
      forms.add(secret);
      forms.add(jsonEscaped(secret, false));
      forms.add(jsonEscaped(secret, true));
      for (const body of pythonReprBodies(secret)) {
        forms.add(body);
      }
      const encoded = percentEncoded(secret);
      if (encoded !== undefined) {
        forms.add(encoded);
      }
    }
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.active = sorted.length > 0;
    this.forms = sorted;
    this.pattern = this.active ? new FormMatcher(sorted) : null;
  }

  /** The text with every occurrence of a secret (or its escaped forms) replaced by `****`. */
  mask(text: string): string {
    if (this.pattern === null || text.length === 0) {
      return text;
    }
    return this.pattern.replace(text, MASK);
  }

  /** The matcher of every form, also split by escape sequences (null with nothing to mask). */
  matcher(): FormMatcher | null {
    return this.pattern;
  }

  /** A deep copy of a JSON value with every string (and object key) masked. */
  maskValue<T extends JSONValue | undefined>(value: T): T {
    if (this.pattern === null) {
      return value;
    }
    return this.maskJSON(value) as T;
  }

  /**
   * A copy of an output with secrets masked in stream text, error name/value/traceback, text and
   * JSON mimetypes, and output metadata. Binary data (base64 images) is left as it is.
   */
  maskOutput(output: Output): Output {
    if (this.pattern === null) {
      return output;
    }
    switch (output.output_type) {
      case 'stream':
        return { ...output, text: this.maskMultiline(output.text) };
      case 'error':
        return {
          ...output,
          ename: this.mask(output.ename),
          evalue: this.mask(output.evalue),
          traceback: output.traceback.map((line) => this.mask(line)),
        };
      case 'display_data':
      case 'execute_result': {
        const data = this.maskBundle(output.data);
        const metadata = this.maskValue(output.metadata);
        return { ...output, data, metadata };
      }
    }
  }

  /** Whether `text` holds a secret (or an escaped form of one). */
  reveals(text: string): boolean {
    return this.pattern !== null && this.mask(text) !== text;
  }

  /**
   * A copy of a cell with secrets masked in its source, metadata, attachments (names and text
   * mimetypes) and, unless `outputs` is false, its outputs.
   */
  maskCell<C extends Cell>(cell: C, options: { outputs?: boolean } = {}): C {
    if (this.pattern === null) {
      return cell;
    }
    const masked = {
      ...cell,
      source: this.maskMultiline(cell.source),
      metadata: this.maskValue(cell.metadata as JSONObject),
    } as Cell;
    if (masked.cell_type === 'code') {
      if (options.outputs !== false) {
        masked.outputs = masked.outputs.map((o) => this.maskOutput(o));
      }
    } else if (masked.attachments !== undefined) {
      masked.attachments = Object.fromEntries(
        Object.entries(masked.attachments).map(([name, bundle]) => [
          this.mask(name),
          bundle !== null && typeof bundle === 'object' && !Array.isArray(bundle)
            ? this.maskBundle(bundle)
            : this.maskJSON(bundle),
        ]),
      ) as JSONObject;
    }
    return masked as C;
  }

  /** A copy of a notebook with secrets masked in its metadata and every cell. */
  maskNotebook(nb: Notebook): Notebook {
    if (this.pattern === null) {
      return nb;
    }
    return {
      ...nb,
      metadata: this.maskValue(nb.metadata as JSONObject) as Notebook['metadata'],
      cells: nb.cells.map((cell) => this.maskCell(cell)),
    };
  }

  /** A copy of a mime bundle with its text and JSON masked; binary data is left as it is. */
  private maskBundle(bundle: MimeBundle): MimeBundle {
    const data: MimeBundle = {};
    for (const [mime, value] of Object.entries(bundle)) {
      data[mime] = isBinaryMime(mime) ? value : this.maskMimeData(mime, value);
    }
    return data;
  }

  private maskMultiline(text: MultilineString): MultilineString {
    if (typeof text === 'string') {
      return this.mask(text);
    }
    // A secret may span list items (one per line): mask the joined text, then split it again.
    const joined = text.join('');
    const masked = this.mask(joined);
    return masked === joined ? text : splitLines(masked);
  }

  private maskMimeData(mime: string, value: JSONValue): JSONValue {
    const isJSON = mime === 'application/json' || mime.endsWith('+json');
    if (!isJSON && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      return this.maskMultiline(value as string[]);
    }
    return this.maskJSON(value) as JSONValue;
  }

  private maskJSON(value: JSONValue | undefined): JSONValue | undefined {
    if (typeof value === 'string') {
      return this.mask(value);
    }
    if (Array.isArray(value)) {
      return value.map((item) => this.maskJSON(item) as JSONValue);
    }
    if (value !== null && typeof value === 'object') {
      // fromEntries defines own properties: a key such as __proto__ stays a plain key.
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
          this.mask(key),
          this.maskJSON(item) as JSONValue,
        ]),
      );
    }
    return value;
  }
}
