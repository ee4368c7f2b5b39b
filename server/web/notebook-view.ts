/**
 * A notebook as the web page shows it, rendered by the HTML report's own renderer
 * (`pipelines/reports/html.ts`: markdown, sources, stream and error outputs with ANSI colours,
 * images, status chips), with what a live page on this service needs on top:
 *
 * - each cell on its own, so the live page can swap one cell as its outputs arrive: a cell is
 *   rendered as the only visible cell of a notebook whose earlier cells are empty raw cells
 *   (which the report leaves out), so its ids and prompts keep their real index;
 * - images inline as `data:` URIs (the report writes them as files beside it);
 * - `text/html` outputs in a sandboxed `<iframe srcdoc>` instead of sanitized inline: the frame
 *   has `sandbox="allow-scripts"` without `allow-same-origin`, so it is an opaque origin that can
 *   reach neither the page's DOM nor its cookie, and it inherits the page's policy, under which
 *   the output's own inline scripts do not run either. Its one script, `/assets/frame.js`, tells
 *   the page its height.
 *
 * - at most so much output per cell (`page-clip.ts`), with a note linking to the rest.
 *
 * The report marks each such output (and each note) with a random placeholder that is replaced
 * afterwards.
 */
import { randomBytes } from 'node:crypto';
import { escapeHtml } from '../../pipelines/reports/ansi';
import { renderHtml } from '../../pipelines/reports/html';
import { metricOf, mimeText } from '../../pipelines/reports/run-metadata';
import type { Cell, CodeCell, Notebook, Output } from '../../pipelines/notebook/model';
import { clipNote, clipOutputs, type ClipLinks } from './page-clip';

/** Mimetypes of the image files the report writes, by extension. */
const IMAGE_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  webp: 'image/webp',
};

/** The folder name the report's files get; only used to find them again in its HTML. */
const FILES_DIR = 'files';

/** An empty raw cell: the report leaves it out, so the cells after it keep their index. */
const PLACEHOLDER_CELL: Cell = { cell_type: 'raw', source: '', metadata: {} };

/** A notebook prepared for the report: HTML outputs and clip notes replaced by placeholders. */
interface Prepared {
  nb: Notebook;
  /** Placeholder -> the HTML it stands for (an output frame, a clip note). */
  frames: Map<string, string>;
}

/** The full-output artifact a cell's metadata names, if any. */
function fullOutputOf(cell: CodeCell): string | null {
  const output = cell.metadata.nbstage?.output;
  const name =
    output !== null && typeof output === 'object' && !Array.isArray(output)
      ? output.full_output
      : undefined;
  return typeof name === 'string' ? name : null;
}

/**
 * Clips every code cell's outputs (only cell `only`'s, when given) and replaces every
 * `text/html` output (not a metric) with a placeholder text output.
 */
function prepare(nb: Notebook, links: ClipLinks | null, only?: number): Prepared {
  const nonce = randomBytes(8).toString('hex');
  const frames = new Map<string, string>();
  const cells = nb.cells.map((cell, i): Cell => {
    if (cell.cell_type !== 'code' || (only !== undefined && i !== only)) {
      return cell;
    }
    const clipped = clipOutputs(cell);
    const kept = clipped.outputs.map((output): Output => {
      if (output.output_type !== 'display_data' && output.output_type !== 'execute_result') {
        return output;
      }
      const html = mimeText(output.data['text/html']);
      if (html === null || metricOf(output.data) !== null) {
        return output;
      }
      const marker = `nbstageframe${nonce}n${frames.size}`;
      frames.set(marker, outputFrame(html));
      return { ...output, data: { 'text/plain': marker } };
    });
    if (clipped.leftOut !== null) {
      const marker = `nbstageframe${nonce}n${frames.size}`;
      frames.set(marker, clipNote(clipped.leftOut, links, fullOutputOf(cell), escapeHtml));
      kept.push({ output_type: 'display_data', data: { 'text/plain': marker }, metadata: {} });
    }
    return { ...cell, outputs: kept };
  });
  return { nb: { ...nb, cells }, frames };
}

/** The document inside an output frame: the output's HTML, the report's table styles. */
function frameDocument(html: string): string {
  return (
    '<!DOCTYPE html><html><head><meta charset="utf-8">' +
    '<link rel="stylesheet" href="/assets/report.css">' +
    '<link rel="stylesheet" href="/assets/frame.css">' +
    `</head><body><div class="output-html">${html}</div>` +
    '<script src="/assets/frame.js"></script></body></html>'
  );
}

/** The sandboxed frame of one HTML output. */
export function outputFrame(html: string): string {
  return (
    '<iframe class="output-frame" sandbox="allow-scripts" referrerpolicy="no-referrer" ' +
    `title="HTML output" height="60" srcdoc="${escapeHtml(frameDocument(html))}"></iframe>`
  );
}

/** Renders with the report and returns its HTML with every image file inlined. */
function renderInline(nb: Notebook): string {
  const report = renderHtml(nb, { title: 'notebook', assetsDirName: FILES_DIR });
  let html = report.html;
  for (const asset of report.assets) {
    const ext = asset.name.slice(asset.name.lastIndexOf('.') + 1);
    const mime = IMAGE_TYPES[ext];
    if (mime === undefined) {
      continue;
    }
    const url = asset.name
      .split('/')
      .map((part) => encodeURIComponent(part))
      .join('/');
    const data = typeof asset.data === 'string' ? Buffer.from(asset.data, 'utf8') : asset.data;
    html = html
      .split(`src="${escapeHtml(url)}"`)
      .join(`src="data:${mime};base64,${data.toString('base64')}"`);
  }
  return html;
}

/** The part of the report between two markers (exclusive); empty when they are missing. */
function between(html: string, start: string, end: string): string {
  const from = html.indexOf(start);
  const to = html.lastIndexOf(end);
  return from < 0 || to < from ? '' : html.slice(from + start.length, to);
}

/** Puts the frames and notes where their placeholders are. */
function placeFrames(html: string, frames: Map<string, string>): string {
  return html.replace(
    /<pre class="output-text">(nbstageframe[0-9a-f]+n\d+)<\/pre>/g,
    (whole, marker: string) => frames.get(marker) ?? whole,
  );
}

/** What the report says of a code cell the run has not finished. */
const NOT_RUN_CHIP = '<span class="chip chip-muted">not in this run</span>';

/** Cells of a run in flight that it will run but has not finished (shown as waiting). */
export type PendingCells = ReadonlySet<number>;

/** One cell of a prepared notebook, wrapped for the live page (`data-index`). */
function cellFragment(prepared: Prepared, index: number, pending: PendingCells): string {
  const alone: Notebook = {
    ...prepared.nb,
    cells: [...new Array<Cell>(index).fill(PLACEHOLDER_CELL), prepared.nb.cells[index]],
  };
  let inner = between(renderInline(alone), '<main class="cells">', '</main>');
  // The report opens each stage with a heading; the cell's stage chip says it here.
  if (inner.startsWith('<h2 class="stage-heading')) {
    inner = inner.slice(inner.indexOf('</h2>') + '</h2>'.length).replace(/^\n/, '');
  }
  if (pending.has(index)) {
    inner = inner.replace(
      NOT_RUN_CHIP,
      '<span class="chip chip-muted waiting-chip">waiting</span>',
    );
  }
  return `<div class="nb-cell" data-index="${index}">${placeFrames(inner, prepared.frames)}</div>`;
}

/**
 * One cell of a notebook, as the live page swaps it in; output past what a page shows is left
 * out with a note linking to `links`.
 */
export function renderCell(
  nb: Notebook,
  index: number,
  pending: PendingCells = new Set(),
  links: ClipLinks | null = null,
): string {
  if (index < 0 || index >= nb.cells.length) {
    return '';
  }
  return cellFragment(prepare(nb, links, index), index, pending);
}

/** Every cell of a notebook, each wrapped for the live page (and clipped as {@link renderCell}). */
export function renderCells(
  nb: Notebook,
  pending: PendingCells = new Set(),
  links: ClipLinks | null = null,
): string {
  const prepared = prepare(nb, links);
  return prepared.nb.cells.map((_, i) => cellFragment(prepared, i, pending)).join('\n');
}

/**
 * The report's header of a notebook (status, facts, what went wrong, parameters, metrics),
 * titled `title`.
 */
export function renderNotebookHeader(nb: Notebook, title: string): string {
  const report = renderHtml(nb, { title, assetsDirName: FILES_DIR });
  return between(report.html, '<div class="page">', '<main class="cells">');
}
