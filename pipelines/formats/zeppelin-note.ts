/**
 * The Apache Zeppelin note file (`.zpln`, `note.json`): its shape as nbstage reads it, and its
 * validation against that shape.
 */
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import { NotebookInvalidError } from '../errors';

/** One message of a paragraph result: `TEXT`, `HTML`, `IMG` (base64), `TABLE` (TSV), ... */
export interface ZeppelinResultMessage {
  type: string;
  data: string;
  [key: string]: unknown;
}

/** A paragraph's results: `code` is `SUCCESS` or `ERROR` (also `INCOMPLETE`, `KEEP_PREVIOUS_RESULT`). */
export interface ZeppelinResults {
  code: string;
  msg: ZeppelinResultMessage[];
  [key: string]: unknown;
}

/** A Zeppelin paragraph. Fields nbstage does not know are kept as they are. */
export interface ZeppelinParagraph {
  id?: string;
  title?: string | null;
  /** The source, starting with `%interpreter` unless the note's default applies. */
  text?: string | null;
  /** Editor and display settings; `enabled: false` disables the paragraph. */
  config?: { [key: string]: unknown };
  settings?: { params?: { [key: string]: unknown }; forms?: { [key: string]: unknown } };
  results?: ZeppelinResults;
  /** `READY`, `PENDING`, `RUNNING`, `FINISHED`, `ERROR`, `ABORT`. */
  status?: string;
  user?: string;
  jobName?: string;
  dateCreated?: string;
  dateUpdated?: string;
  dateStarted?: string;
  dateFinished?: string;
  [key: string]: unknown;
}

/** A Zeppelin note. Fields nbstage does not know are kept as they are. */
export interface ZeppelinNote {
  id?: string;
  name?: string;
  paragraphs: ZeppelinParagraph[];
  /** Interpreter group of paragraphs without a `%prefix` (Zeppelin 0.9+). */
  defaultInterpreterGroup?: string;
  config?: { [key: string]: unknown };
  [key: string]: unknown;
}

const NOTE_SCHEMA = {
  type: 'object',
  required: ['paragraphs'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    defaultInterpreterGroup: { type: 'string' },
    config: { type: 'object' },
    paragraphs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          title: { type: ['string', 'null'] },
          text: { type: ['string', 'null'] },
          config: { type: 'object' },
          settings: { type: 'object' },
          status: { type: 'string' },
          results: {
            type: 'object',
            properties: {
              code: { type: 'string' },
              msg: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { type: { type: 'string' }, data: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

let noteValidator: ValidateFunction | undefined;

/**
 * Validates a parsed JSON value as a Zeppelin note (the parts nbstage reads).
 *
 * @param value - the parsed JSON
 * @param source - the file name used in error messages
 * @throws NotebookInvalidError naming the file and the JSON path of the problem
 */
export function validateZeppelinNote(value: unknown, source: string): ZeppelinNote {
  noteValidator ??= new Ajv({ allErrors: false }).compile(NOTE_SCHEMA);
  if (!noteValidator(value)) {
    const error = noteValidator.errors?.[0];
    const where = error === undefined || error.instancePath === '' ? 'note' : error.instancePath;
    const what = error?.message ?? 'is invalid';
    throw new NotebookInvalidError(`${source}: invalid Zeppelin note: ${where} ${what}`);
  }
  return value as ZeppelinNote;
}
