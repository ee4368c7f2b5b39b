/**
 * The nbformat 4 notebook model as TypeScript types, plus the few helpers every other module
 * needs (source text, tags, ids). Parsing and validation live in `validate.ts`, files in `io.ts`.
 */
import { randomBytes } from 'node:crypto';

/** A JSON value. */
export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };
/** A JSON object. */
export type JSONObject = { [key: string]: JSONValue };

/** Multi-line strings are stored either as one string or as a list of lines. */
export type MultilineString = string | string[];

/** A mime bundle: mimetype -> data. */
export type MimeBundle = { [mime: string]: JSONValue };

/** `stream` output. */
export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: MultilineString;
}
/** `display_data` output; `transient` is never written to disk. */
export interface DisplayDataOutput {
  output_type: 'display_data';
  data: MimeBundle;
  metadata: JSONObject;
}
/** `execute_result` output. */
export interface ExecuteResultOutput {
  output_type: 'execute_result';
  execution_count: number | null;
  data: MimeBundle;
  metadata: JSONObject;
}
/** `error` output. */
export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}
/** Any output of a code cell. */
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** Cell metadata; `tags`, `execution` and `nbstage` are the keys nbstage reads or writes. */
export interface CellMetadata {
  tags?: string[];
  execution?: { [key: string]: string };
  nbstage?: JSONObject;
  [key: string]: JSONValue | undefined;
}

/** A code cell. */
export interface CodeCell {
  cell_type: 'code';
  id?: string;
  source: MultilineString;
  metadata: CellMetadata;
  execution_count: number | null;
  outputs: Output[];
}
/** A markdown cell. */
export interface MarkdownCell {
  cell_type: 'markdown';
  id?: string;
  source: MultilineString;
  metadata: CellMetadata;
  attachments?: JSONObject;
}
/** A raw cell. */
export interface RawCell {
  cell_type: 'raw';
  id?: string;
  source: MultilineString;
  metadata: CellMetadata;
  attachments?: JSONObject;
}
/** Any cell. */
export type Cell = CodeCell | MarkdownCell | RawCell;

/** Notebook-level metadata. */
export interface NotebookMetadata {
  kernelspec?: {
    /** Required by nbformat, yet missing in real notebooks (a run fills it in). */
    name?: string;
    display_name?: string;
    language?: string;
    [key: string]: JSONValue | undefined;
  };
  language_info?: { name: string; [key: string]: JSONValue | undefined };
  nbstage?: JSONObject;
  [key: string]: JSONValue | undefined | NotebookMetadata['kernelspec'];
}

/** An nbformat 4 notebook. */
export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: NotebookMetadata;
  cells: Cell[];
}

/** The text of a multi-line string. */
export function joinSource(source: MultilineString): string {
  return Array.isArray(source) ? source.join('') : source;
}

/** Splits text into nbformat's list-of-lines form (each line keeps its newline). */
export function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines ?? [];
}

/**
 * Whether a cell is a code cell with nothing to run: its source is empty or whitespace only.
 * nbclient never sends such a cell to the kernel (its execution count stays null).
 */
export function isEmptyCodeCell(cell: Cell): boolean {
  return cell.cell_type === 'code' && joinSource(cell.source).trim() === '';
}

/** The tags of a cell (empty when it has none). */
export function cellTags(cell: Cell): string[] {
  const tags = cell.metadata.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** Whether a cell carries a tag. */
export function hasTag(cell: Cell, tag: string): boolean {
  return cellTags(cell).includes(tag);
}

/** A fresh cell id as nbformat 4.5 wants it (8 hex chars). */
export function newCellId(): string {
  return randomBytes(4).toString('hex');
}

/** A new code cell with the given source and tags. */
export function newCodeCell(source: string, tags: string[] = []): CodeCell {
  return {
    cell_type: 'code',
    id: newCellId(),
    source: splitLines(source),
    metadata: tags.length > 0 ? { tags } : {},
    execution_count: null,
    outputs: [],
  };
}

/** The first non-empty line of a cell's source, trimmed (for console headers and test names). */
export function firstSourceLine(cell: Cell): string {
  const line = joinSource(cell.source)
    .split('\n')
    .find((l) => l.trim() !== '');
  return (line ?? '').trim();
}

/** A deep copy of a notebook (plain JSON). */
export function cloneNotebook(nb: Notebook): Notebook {
  return structuredClone(nb);
}
