/**
 * What a web page renders of a cell's outputs: at most {@link PAGE_TEXT_CHARS} characters of
 * text and {@link PAGE_CELL_CHARS} of everything, so a page stays quick to send and to render
 * whatever a cell printed. What is left out is replaced by one note that links to the whole
 * notebook and, when the run kept it, the cell's full output.
 */
import type { CodeCell, MimeBundle, Output } from '../../pipelines/notebook/model';

/** Characters of stream and error text a page shows per cell. */
export const PAGE_TEXT_CHARS = 100_000;

/** Characters of outputs (text, images as base64, HTML) a page shows per cell. */
export const PAGE_CELL_CHARS = 2_000_000;

/** Where the whole of a clipped cell can be read. */
export interface ClipLinks {
  /** The notebook file (.ipynb). */
  notebook: string;
  /** The full output of a cell from its artifact name (`nbstage-output/cell-N.txt.gz`). */
  artifact?: (name: string) => string;
}

/** A clipped cell: its outputs to render, and what was left out (null when nothing was). */
export interface Clipped {
  outputs: Output[];
  leftOut: { chars: number; outputs: number } | null;
}

function textOf(text: string | string[]): string {
  return Array.isArray(text) ? text.join('') : text;
}

function bundleChars(data: MimeBundle): number {
  let chars = 0;
  for (const value of Object.values(data)) {
    chars +=
      typeof value === 'string'
        ? value.length
        : Array.isArray(value)
          ? value.join('').length
          : JSON.stringify(value).length;
  }
  return chars;
}

/** The outputs of `cell` a page renders. */
export function clipOutputs(cell: CodeCell): Clipped {
  let text = PAGE_TEXT_CHARS;
  let all = PAGE_CELL_CHARS;
  const outputs: Output[] = [];
  let leftChars = 0;
  let leftOutputs = 0;
  for (const output of cell.outputs) {
    if (output.output_type === 'stream') {
      const whole = textOf(output.text);
      const room = Math.min(text, all);
      if (whole.length <= room) {
        outputs.push(output);
        text -= whole.length;
        all -= whole.length;
      } else {
        if (room > 0) {
          outputs.push({ ...output, text: whole.slice(0, room) });
        }
        leftChars += whole.length - Math.max(0, room);
        text = 0;
        all -= Math.max(0, room);
      }
      continue;
    }
    const chars =
      output.output_type === 'error'
        ? output.traceback.join('\n').length
        : bundleChars(output.data);
    if (chars <= all) {
      outputs.push(output);
      all -= chars;
    } else {
      leftChars += chars;
      leftOutputs += 1;
    }
  }
  return {
    outputs,
    leftOut:
      leftChars === 0 && leftOutputs === 0 ? null : { chars: leftChars, outputs: leftOutputs },
  };
}

/** The note that replaces what a page left out of a cell (HTML; `links` are trusted paths). */
export function clipNote(
  leftOut: { chars: number; outputs: number },
  links: ClipLinks | null,
  fullOutput: string | null,
  escape: (text: string) => string,
): string {
  const what =
    leftOut.outputs > 0
      ? `${leftOut.outputs} more output${leftOut.outputs === 1 ? '' : 's'} and text`
      : `${leftOut.chars.toLocaleString('en-US')} more characters of output`;
  const where: string[] = [];
  if (links !== null) {
    where.push(`<a href="${escape(links.notebook)}" download>the notebook (.ipynb)</a>`);
    if (fullOutput !== null && links.artifact !== undefined) {
      where.push(`<a href="${escape(links.artifact(fullOutput))}" download>the full output</a>`);
    }
  }
  return (
    `<p class="output-clipped muted">This page leaves out ${escape(what)} of this cell` +
    (where.length === 0 ? '.' : `: see ${where.join(' or ')}.`) +
    '</p>'
  );
}
