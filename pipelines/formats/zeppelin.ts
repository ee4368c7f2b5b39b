/**
 * Apache Zeppelin notes (`.zpln`, `note.json`) as notebooks: each paragraph becomes a cell on the
 * kernel its `%interpreter` maps to (a configurable table). This module reads a note; the note's
 * shape, the interpreter table and writing results back have their own modules, re-exported here.
 */
import { NotebookInvalidError } from '../errors';
import { newCellId, splitLines } from '../notebook/model';
import type { Cell, CellMetadata, JSONObject, JSONValue, Notebook } from '../notebook/model';
import {
  DEFAULT_INTERPRETERS,
  KERNEL_DISPLAY_NAMES,
  defaultInterpreter,
  lookupInterpreter,
  parseText,
  type InterpreterTable,
} from './zeppelin-interpreters';
import type { ZeppelinNote, ZeppelinParagraph } from './zeppelin-note';

export { DEFAULT_INTERPRETERS, type InterpreterTable } from './zeppelin-interpreters';
export {
  validateZeppelinNote,
  type ZeppelinNote,
  type ZeppelinParagraph,
  type ZeppelinResultMessage,
  type ZeppelinResults,
} from './zeppelin-note';
export { formatZeppelinDate, notebookToZeppelin } from './zeppelin-results';

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
    const entry = lookupInterpreter(table, interpreter);
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
