/**
 * Writing an executed notebook back into the Zeppelin note it came from: each paragraph gets its
 * cell's outputs as Zeppelin results (TEXT, HTML, IMG, TABLE), its status and its dates.
 */
import { Marked } from 'marked';
import { joinSource } from '../notebook/model';
import type { Cell, JSONValue, MimeBundle, Notebook, Output } from '../notebook/model';
import { stripAnsi } from '../reports/ansi';
import { mimeText } from '../reports/run-metadata';
import type { ZeppelinNote, ZeppelinResultMessage } from './zeppelin-note';

/** The text of one mimetype of a bundle, if it holds text. */
function bundleText(bundle: MimeBundle, mime: string): string | undefined {
  return mimeText(bundle[mime]) ?? undefined;
}

const markdown = new Marked({ gfm: true });

function renderMarkdown(text: string): string {
  return `<div class="markdown-body">\n${markdown.parse(text, { async: false })}</div>`;
}

/** The Zeppelin message for a display: the richest mimetype Zeppelin can show. */
function displayMessage(bundle: MimeBundle): ZeppelinResultMessage | undefined {
  const tsv = bundleText(bundle, 'text/tab-separated-values');
  if (tsv !== undefined) {
    return { type: 'TABLE', data: tsv };
  }
  for (const mime of ['image/png', 'image/jpeg', 'image/gif']) {
    const image = bundleText(bundle, mime);
    if (image !== undefined) {
      return { type: 'IMG', data: image.replace(/\s+/g, '') };
    }
  }
  const html = bundleText(bundle, 'text/html') ?? bundleText(bundle, 'image/svg+xml');
  if (html !== undefined) {
    return { type: 'HTML', data: html };
  }
  const md = bundleText(bundle, 'text/markdown');
  if (md !== undefined) {
    return { type: 'HTML', data: renderMarkdown(md) };
  }
  const text = bundleText(bundle, 'text/plain');
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
