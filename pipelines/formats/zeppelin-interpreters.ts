/**
 * Zeppelin interpreters and the Jupyter kernels that run them: the configurable table, and the
 * `%interpreter(key=value)` prefix of a paragraph's text that picks one.
 */
import type { JSONObject } from '../notebook/model';
import type { ZeppelinNote } from './zeppelin-note';

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

/** Display names of the kernels the default table names, for a notebook's kernelspec. */
export const KERNEL_DISPLAY_NAMES: Record<string, string> = {
  python3: 'Python 3 (ipykernel)',
  bash: 'Bash',
  ir: 'R',
};

/** The interpreter prefix of a paragraph's text, its local properties and the script after it. */
export interface ParsedText {
  interpreter: string | null;
  properties: JSONObject;
  script: string;
}

// As Zeppelin's ParagraphTextParser: optional blanks, %name, optional (k=v,...), then the script.
const PREFIX = /^\s*%([\w.]+)(\([^)]*\))?/;

/** Splits a paragraph's text into its interpreter prefix, local properties and script. */
export function parseText(text: string): ParsedText {
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

/** The interpreter of a note's paragraphs without a prefix (python when the note names none). */
export function defaultInterpreter(note: ZeppelinNote): string {
  if (typeof note.defaultInterpreterGroup === 'string' && note.defaultInterpreterGroup !== '') {
    return note.defaultInterpreterGroup;
  }
  const fromConfig = note.config?.defaultInterpreterGroup;
  return typeof fromConfig === 'string' && fromConfig !== '' ? fromConfig : 'python';
}

/** An interpreter's entry in the table, by its exact name, else lower-cased. */
export function lookupInterpreter(
  table: InterpreterTable,
  name: string,
): { kernel: string | null; language: string } | undefined {
  return Object.prototype.hasOwnProperty.call(table, name)
    ? table[name]
    : Object.prototype.hasOwnProperty.call(table, name.toLowerCase())
      ? table[name.toLowerCase()]
      : undefined;
}
