/**
 * Apache Zeppelin notes (`.zpln`, `note.json`) as notebooks, and back. Each paragraph becomes a
 * cell on the kernel its `%interpreter` maps to (a configurable table); after a run the outputs
 * are written back as Zeppelin results (TEXT, HTML, IMG, TABLE) with status and dates.
 */
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import { Marked } from 'marked';
import { NotebookInvalidError } from '../errors';
import { joinSource, newCellId, splitLines } from '../notebook/model';
import type {
  Cell,
  CellMetadata,
  JSONObject,
  JSONValue,
  MimeBundle,
  Notebook,
  Output,
} from '../notebook/model';

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

/**
 * Zeppelin interpreter name -> the Jupyter kernel that runs it and its language. `kernel: null`
 * means the paragraph is not executed (markdown).
 */
export type InterpreterTable = Record<string, { kernel: string | null; language: string }>;

const PYTHON = { kernel: 'python3', language: 'python' };
const BASH = { kernel: 'bash', language: 'bash' };
const MARKDOWN = { kernel: null, language: 'markdown' };
const R = { kernel: 'ir', language: 'R' };

/** The interpreters nbstage knows out of the box. */
export const DEFAULT_INTERPRETERS: Readonly<InterpreterTable> = Object.freeze({
  python: PYTHON,
  'python.python': PYTHON,
  'python.ipython': PYTHON,
  pyspark: PYTHON,
  'spark.pyspark': PYTHON,
  ipython: PYTHON,
  sh: BASH,
  shell: BASH,
  bash: BASH,
  md: MARKDOWN,
  markdown: MARKDOWN,
  r: R,
  'spark.r': R,
  ir: R,
});

const KERNEL_DISPLAY_NAMES: Record<string, string> = {
  python3: 'Python 3 (ipykernel)',
  bash: 'Bash',
  ir: 'R',
};

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

/** The interpreter prefix of a paragraph's text, its local properties and the script after it. */
interface ParsedText {
  interpreter: string | null;
  properties: JSONObject;
  script: string;
}

// As Zeppelin's ParagraphTextParser: optional blanks, %name, optional (k=v,...), then the script.
const PREFIX = /^\s*%([\w.]+)(\([^)]*\))?/;

function parseText(text: string): ParsedText {
  const match = PREFIX.exec(text);
  const properties: JSONObject = {};
  if (match === null) {
    return { interpreter: null, properties, script: stripLeadingBlanks(text) };
  }
  const props = match[2];
  if (props !== undefined) {
    for (const pair of props.slice(1, -1).split(',')) {
      const [key, ...rest] = pair.split('=');
      if (key !== undefined && key.trim() !== '') {
        properties[key.trim()] = rest.join('=').trim();
      }
    }
  }
  return {
    interpreter: match[1] ?? null,
    properties,
    script: stripLeadingBlanks(text.slice(match[0].length)),
  };
}

/** Zeppelin removes every leading character <= ' ' (blank lines, indentation) from the script. */
function stripLeadingBlanks(text: string): string {
  let i = 0;
  while (i < text.length && text.charCodeAt(i) <= 0x20) {
    i++;
  }
  return text.slice(i);
}

function defaultInterpreter(note: ZeppelinNote): string {
  if (typeof note.defaultInterpreterGroup === 'string' && note.defaultInterpreterGroup !== '') {
    return note.defaultInterpreterGroup;
  }
  const fromConfig = note.config?.defaultInterpreterGroup;
  return typeof fromConfig === 'string' && fromConfig !== '' ? fromConfig : 'python';
}

function lookup(
  table: InterpreterTable,
  name: string,
): { kernel: string | null; language: string } | undefined {
  return Object.prototype.hasOwnProperty.call(table, name)
    ? table[name]
    : Object.prototype.hasOwnProperty.call(table, name.toLowerCase())
      ? table[name.toLowerCase()]
      : undefined;
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Tags of a paragraph: `config.tags`, a `stage:NAME` title, `skip-execution` when disabled. */
function paragraphTags(p: ZeppelinParagraph): string[] {
  const tags = stringArray(p.config?.tags);
  const stage = typeof p.title === 'string' ? /^\s*stage:\s*(\S+)\s*$/.exec(p.title) : null;
  if (stage !== null && stage[1] !== undefined) {
    tags.push(`stage:${stage[1]}`);
  }
  if (p.config?.enabled === false) {
    tags.push('skip-execution');
  }
  return [...new Set(tags)];
}

/** Stage options given in a paragraph's `config.nbstage` (`agent`, `gpus`, `timeout`). */
function stageOptions(p: ZeppelinParagraph): JSONObject {
  const raw = p.config?.nbstage;
  const out: JSONObject = {};
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    for (const key of ['agent', 'gpus', 'timeout']) {
      const value = (raw as Record<string, unknown>)[key];
      if (value !== undefined) {
        out[key] = value as JSONValue;
      }
    }
  }
  return out;
}

const CELL_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Converts a Zeppelin note into an nbformat 4.5 notebook.
 *
 * Markdown paragraphs become markdown cells; every other paragraph becomes a code cell whose
 * `metadata.nbstage` names its `interpreter`, `kernel`, `language` and `paragraph_id` (or
 * `paragraph_index` when the paragraph has no id). Paragraphs without a `%prefix` use the note's
 * default interpreter (`defaultInterpreterGroup`, else python); empty ones become empty raw
 * cells. A title `stage:NAME` becomes the tag `stage:NAME`; `config.tags` are kept as tags;
 * disabled paragraphs are tagged `skip-execution`.
 *
 * @param note - the Zeppelin note
 * @param table - interpreter name -> kernel and language
 * @throws NotebookInvalidError for an interpreter the table does not know, naming the paragraph
 */
export function zeppelinToNotebook(
  note: ZeppelinNote,
  table: InterpreterTable = DEFAULT_INTERPRETERS,
): Notebook {
  const fallback = defaultInterpreter(note);
  const usedIds = new Set<string>();
  const cells: Cell[] = [];
  let kernel: { name: string; language: string } | null = null;

  for (const [index, p] of note.paragraphs.entries()) {
    const parsed = parseText(typeof p.text === 'string' ? p.text : '');
    const nbstage: JSONObject = {};
    if (typeof p.id === 'string') {
      nbstage.paragraph_id = p.id;
    } else {
      nbstage.paragraph_index = index;
    }
    if (typeof p.title === 'string' && p.title !== '') {
      nbstage.title = p.title;
    }
    const tags = paragraphTags(p);
    const metadata: CellMetadata = tags.length > 0 ? { tags, nbstage } : { nbstage };
    let id = newCellId();
    if (typeof p.id === 'string' && CELL_ID.test(p.id) && !usedIds.has(p.id)) {
      id = p.id;
    }
    usedIds.add(id);
    const source = splitLines(parsed.script);

    if (parsed.interpreter === null && parsed.script.trim() === '') {
      cells.push({ cell_type: 'raw', id, source, metadata });
      continue;
    }
    const interpreter = parsed.interpreter ?? fallback;
    const entry = lookup(table, interpreter);
    if (entry === undefined) {
      const which = typeof p.id === 'string' ? `${index + 1} (${p.id})` : `${index + 1}`;
      throw new NotebookInvalidError(
        `paragraph ${which}: unknown interpreter %${interpreter} ` +
          `(known: ${Object.keys(table).sort().join(', ')})`,
      );
    }
    nbstage.interpreter = interpreter;
    nbstage.language = entry.language;
    if (Object.keys(parsed.properties).length > 0) {
      nbstage.interpreter_properties = parsed.properties;
    }
    if (entry.kernel === null) {
      cells.push(
        entry.language.toLowerCase() === 'markdown'
          ? { cell_type: 'markdown', id, source, metadata }
          : { cell_type: 'raw', id, source, metadata },
      );
      continue;
    }
    nbstage.kernel = entry.kernel;
    Object.assign(nbstage, stageOptions(p));
    kernel ??= { name: entry.kernel, language: entry.language };
    cells.push({ cell_type: 'code', id, source, metadata, execution_count: null, outputs: [] });
  }

  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { nbstage: { zeppelin: { id: note.id ?? null, name: note.name ?? null } } },
    cells,
  };
  if (kernel !== null) {
    nb.metadata.kernelspec = {
      name: kernel.name,
      display_name: KERNEL_DISPLAY_NAMES[kernel.name] ?? kernel.name,
      language: kernel.language,
    };
    nb.metadata.language_info = { name: kernel.language };
  }
  return nb;
}

// CSI sequences (colours, cursor), OSC sequences (titles, links) and two-character escapes.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

function mimeText(bundle: MimeBundle, mime: string): string | undefined {
  const value = bundle[mime];
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return joinSource(value as string[]);
  }
  return undefined;
}

const markdown = new Marked({ gfm: true });

function renderMarkdown(text: string): string {
  return `<div class="markdown-body">\n${markdown.parse(text, { async: false })}</div>`;
}

/** The Zeppelin message for a display: the richest mimetype Zeppelin can show. */
function displayMessage(bundle: MimeBundle): ZeppelinResultMessage | undefined {
  const tsv = mimeText(bundle, 'text/tab-separated-values');
  if (tsv !== undefined) {
    return { type: 'TABLE', data: tsv };
  }
  for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
    const image = mimeText(bundle, mime);
    if (image !== undefined) {
      return { type: 'IMG', data: image.replace(/\s+/g, '') };
    }
  }
  const html = mimeText(bundle, 'text/html') ?? mimeText(bundle, 'image/svg+xml');
  if (html !== undefined) {
    return { type: 'HTML', data: html };
  }
  const md = mimeText(bundle, 'text/markdown');
  if (md !== undefined) {
    return { type: 'HTML', data: renderMarkdown(md) };
  }
  const text = mimeText(bundle, 'text/plain');
  return text === undefined ? undefined : { type: 'TEXT', data: stripAnsi(text) + '\n' };
}

function outputMessage(output: Output): ZeppelinResultMessage | undefined {
  switch (output.output_type) {
    case 'stream':
      return { type: 'TEXT', data: stripAnsi(joinSource(output.text)) };
    case 'error':
      return { type: 'TEXT', data: output.traceback.map(stripAnsi).join('\n') + '\n' };
    case 'display_data':
    case 'execute_result':
      return displayMessage(output.data);
  }
}

/** The messages for a cell's outputs; consecutive TEXT messages are joined, as Zeppelin does. */
function resultMessages(outputs: Output[]): ZeppelinResultMessage[] {
  const msgs: ZeppelinResultMessage[] = [];
  for (const output of outputs) {
    const msg = outputMessage(output);
    if (msg === undefined || (msg.type === 'TEXT' && msg.data === '')) {
      continue;
    }
    const last = msgs[msgs.length - 1];
    if (msg.type === 'TEXT' && last !== undefined && last.type === 'TEXT') {
      last.data += msg.data;
    } else {
      msgs.push(msg);
    }
  }
  return msgs;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A date as Zeppelin writes paragraph dates ("MMM d, yyyy h:mm:ss a"), in UTC, e.g.
 * `Nov 22, 2026 11:02:11 AM`.
 */
export function formatZeppelinDate(date: Date): string {
  const hours = date.getUTCHours();
  const h12 = hours % 12 === 0 ? 12 : hours % 12;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()} ` +
    `${h12}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${hours < 12 ? 'AM' : 'PM'}`
  );
}

function zeppelinDate(iso: string | undefined): string | undefined {
  if (iso === undefined) {
    return undefined;
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : formatZeppelinDate(date);
}

/** Zeppelin's paragraph status for nbstage's cell status. */
function paragraphStatus(status: JSONValue | undefined): 'FINISHED' | 'ERROR' | 'READY' {
  switch (status) {
    case 'ok':
      return 'FINISHED';
    case 'error':
    case 'timeout':
    case 'kernel_died':
    case 'cancelled':
      return 'ERROR';
    default:
      return 'READY';
  }
}

/** Finds the cell made from each paragraph: by `paragraph_id`, else by `paragraph_index`. */
function cellsByParagraph(nb: Notebook): {
  byId: Map<string, Cell>;
  byIndex: Map<number, Cell>;
} {
  const byId = new Map<string, Cell>();
  const byIndex = new Map<number, Cell>();
  for (const cell of nb.cells) {
    const meta = cell.metadata.nbstage;
    if (meta === undefined) {
      continue;
    }
    if (typeof meta.paragraph_id === 'string') {
      byId.set(meta.paragraph_id, cell);
    } else if (typeof meta.paragraph_index === 'number') {
      byIndex.set(meta.paragraph_index, cell);
    }
  }
  return { byId, byIndex };
}

/**
 * Writes an executed notebook's results back into (a copy of) the note it came from.
 *
 * Each code paragraph gets `results` (`SUCCESS`/`ERROR` with TEXT, HTML, IMG and TABLE
 * messages), `status` (`FINISHED`, `ERROR`, or `READY` when the cell did not run) and
 * `dateStarted`/`dateFinished` from the cell's `metadata.execution`. Markdown paragraphs get
 * their rendered HTML and `FINISHED`. Paragraphs without a cell, empty ones and every field
 * nbstage does not know are left as they were.
 *
 * @param original - the note as read
 * @param executed - the executed notebook made from it by {@link zeppelinToNotebook}
 */
export function notebookToZeppelin(original: ZeppelinNote, executed: Notebook): ZeppelinNote {
  const note = structuredClone(original);
  const { byId, byIndex } = cellsByParagraph(executed);
  note.paragraphs.forEach((p, index) => {
    const cell = (typeof p.id === 'string' ? byId.get(p.id) : undefined) ?? byIndex.get(index);
    if (cell === undefined || cell.cell_type === 'raw') {
      return;
    }
    if (cell.cell_type === 'markdown') {
      p.results = {
        code: 'SUCCESS',
        msg: [{ type: 'HTML', data: renderMarkdown(joinSource(cell.source)) }],
      };
      p.status = 'FINISHED';
      return;
    }
    const status = paragraphStatus(cell.metadata.nbstage?.status);
    const msg = resultMessages(cell.outputs);
    if (status === 'READY' && msg.length === 0) {
      delete p.results;
    } else {
      p.results = { code: status === 'ERROR' ? 'ERROR' : 'SUCCESS', msg };
    }
    p.status = status;
    const started = zeppelinDate(cell.metadata.execution?.['iopub.status.busy']);
    const finished = zeppelinDate(cell.metadata.execution?.['shell.execute_reply']);
    if (started !== undefined) {
      p.dateStarted = started;
    }
    if (finished !== undefined) {
      p.dateFinished = finished;
    }
    if (status === 'READY' && started === undefined) {
      delete p.dateStarted;
      delete p.dateFinished;
    }
  });
  return note;
}
