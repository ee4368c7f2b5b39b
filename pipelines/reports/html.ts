/**
 * The standalone HTML report of an executed notebook. It must read well under Jenkins'
 * Content-Security-Policy (`default-src 'none'; img-src 'self'; style-src 'self'`, sandboxed):
 * no scripts, no inline styles, the stylesheet and every image as files in an assets folder
 * beside the report, never `data:` URIs. Everything that comes from the notebook (markdown, HTML
 * outputs, SVG) is sanitized; terminal colours become CSS classes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';
import type { CellStatus, RunStatus } from '../executor/events';
import { writeFileAtomic } from '../notebook/io';
import type {
  Cell,
  CodeCell,
  DisplayDataOutput,
  ExecuteResultOutput,
  JSONObject,
  JSONValue,
  MimeBundle,
  Notebook,
  Output,
} from '../notebook/model';
import { ansiToHtml, applyCarriageReturns, escapeHtml, stripAnsi } from './ansi';
import { formatDuration, formatValue } from './format';
import type { CellRunInfo, RunInfo } from './run-metadata';
import {
  cellRunInfo,
  isJSONObject,
  metricOf,
  mimeText,
  multilineText,
  runInfo,
} from './run-metadata';

/** Options of {@link renderHtml}. */
export interface HtmlReportOptions {
  /** The report's title (page title and heading). */
  title: string;
  /** The folder, relative to the report, that holds its stylesheet and images. */
  assetsDirName: string;
}

/** A file the report refers to; `name` is relative to the report's folder. */
export interface HtmlAsset {
  name: string;
  data: Buffer | string;
}

/** What {@link renderHtml} produces: the page and the files it needs beside it. */
export interface HtmlReport {
  html: string;
  assets: HtmlAsset[];
}

/** The policy the page declares for itself, as strict as Jenkins' default. */
const CSP = "default-src 'none'; img-src 'self'; style-src 'self';";

/** Raster image mimetypes written as files, with their extensions. */
const RASTER_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
};

/** Mimetypes accepted from `data:` URIs and attachments, with their extensions. */
const EMBEDDED_IMAGE_TYPES: Record<string, string> = {
  ...RASTER_TYPES,
  'image/svg+xml': 'svg',
  'image/webp': 'webp',
};

/** Human labels of run statuses. */
const RUN_STATUS_LABELS: Record<RunStatus, string> = {
  completed: 'completed',
  failed: 'failed',
  timeout: 'timed out',
  kernel_died: 'kernel died',
  cancelled: 'cancelled',
  error: 'error',
};

/** Human labels of cell statuses. */
const CELL_STATUS_LABELS: Record<CellStatus, string> = {
  ok: 'ok',
  error: 'error',
  skipped: 'skipped',
  aborted: 'not run',
  timeout: 'timed out',
  cancelled: 'cancelled',
  kernel_died: 'kernel died',
};

let stylesheet: string | null = null;

/**
 * The report stylesheet. It lives beside this module in the sources; compiled output does not
 * carry it, so from `dist/pipelines/reports/` it is read from the source tree.
 */
function loadStylesheet(): string {
  if (stylesheet === null) {
    const candidates = [
      path.join(__dirname, 'report.css'),
      path.resolve(__dirname, '../../../pipelines/reports/report.css'),
    ];
    const found = candidates.find((candidate) => existsSync(candidate));
    if (found === undefined) {
      throw new Error(`report.css not found (looked in ${candidates.join(', ')})`);
    }
    stylesheet = readFileSync(found, 'utf8');
  }
  return stylesheet;
}

/** The assets of one report being rendered, and how the page refers to them. */
class AssetCollector {
  readonly assets: HtmlAsset[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly dirName: string) {}

  /** Adds a file to the assets folder and returns its URL relative to the report. */
  add(fileName: string, data: Buffer | string): string {
    let unique = fileName;
    for (let n = 2; this.names.has(unique); n += 1) {
      const ext = path.extname(fileName);
      unique = `${fileName.slice(0, fileName.length - ext.length)}-${n}${ext}`;
    }
    this.names.add(unique);
    this.assets.push({ name: `${this.dirName}/${unique}`, data });
    return [...this.dirName.split('/'), unique].map((part) => encodeURIComponent(part)).join('/');
  }
}

/** Decodes base64 image data (nbformat stores it with or without line breaks). */
function decodeBase64(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'base64');
}

/** Where sanitized HTML comes from; names the files its embedded images become. */
interface SanitizeContext {
  assets: AssetCollector;
  /** File name prefix for images extracted from this fragment, e.g. `cell3-out1`. */
  prefix: string;
  /** Markdown cell attachments (`attachment:name` image sources). */
  attachments?: JSONObject;
}

/** Turns an embedded image (`data:` URI or attachment) into an asset; null when unusable. */
function extractImage(
  src: string,
  context: SanitizeContext,
  counter: { n: number },
): string | null {
  const dataUri = /^data:([\w.+/-]+)(;[^,]*)?,([\s\S]*)$/i.exec(src.trim());
  if (dataUri !== null) {
    const mime = dataUri[1].toLowerCase();
    const ext = EMBEDDED_IMAGE_TYPES[mime];
    if (ext === undefined) {
      return null;
    }
    const isBase64 = /;base64/i.test(dataUri[2] ?? '');
    const payload = dataUri[3];
    let data: Buffer;
    try {
      data = isBase64 ? decodeBase64(payload) : Buffer.from(decodeURIComponent(payload), 'utf8');
    } catch {
      return null;
    }
    counter.n += 1;
    return context.assets.add(`${context.prefix}-img${counter.n}.${ext}`, data);
  }
  if (src.startsWith('attachment:') && context.attachments !== undefined) {
    const name = decodeURIComponent(src.slice('attachment:'.length));
    const bundle = context.attachments[name];
    if (!isJSONObject(bundle)) {
      return null;
    }
    for (const [mime, ext] of Object.entries(EMBEDDED_IMAGE_TYPES)) {
      const text = mimeText(bundle[mime]);
      if (text !== null) {
        const data = mime === 'image/svg+xml' ? text : decodeBase64(text);
        const safeName = name.replace(/[^\w.-]+/g, '_').replace(/\.[^.]*$/, '');
        return context.assets.add(`${context.prefix}-${safeName || 'attachment'}.${ext}`, data);
      }
    }
  }
  return null;
}

/**
 * Sanitizes HTML from the notebook: no scripts, event handlers, `style` attributes or elements,
 * frames, forms or `javascript:`/`data:` URLs survive. Embedded images become asset files.
 */
function sanitize(dirty: string, context: SanitizeContext): string {
  const counter = { n: 0 };
  return sanitizeHtml(dirty, {
    allowedTags: [
      ...sanitizeHtml.defaults.allowedTags,
      'img',
      'del',
      'ins',
      'details',
      'summary',
      'center',
      'font',
    ],
    disallowedTagsMode: 'discard',
    nonTextTags: [
      'script',
      'style',
      'textarea',
      'option',
      'noscript',
      'svg',
      'math',
      'iframe',
      'object',
      'embed',
      'template',
      'title',
      'head',
      'select',
      'button',
    ],
    allowedAttributes: {
      a: ['href', 'name', 'title'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      table: ['class', 'border'],
      th: ['colspan', 'rowspan', 'align', 'valign', 'scope'],
      td: ['colspan', 'rowspan', 'align', 'valign'],
      ol: ['start', 'type'],
      code: ['class'],
      abbr: ['title'],
      details: ['open'],
    },
    allowedClasses: { table: ['dataframe'], code: [/^language-[\w-]+$/] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    parseStyleAttributes: false,
    transformTags: {
      img: (tagName, attribs) => {
        const src = attribs.src ?? '';
        if (/^(data|attachment):/i.test(src.trim())) {
          const extracted = extractImage(src, context, counter);
          const { src: _src, ...rest } = attribs;
          return { tagName, attribs: extracted === null ? rest : { ...rest, src: extracted } };
        }
        return { tagName, attribs };
      },
    },
  });
}

/** Whether sanitized HTML still shows anything (text, an image, a rule). */
function hasVisibleContent(html: string): boolean {
  return /<(img|hr)\b/i.test(html) || html.replace(/<[^>]*>/g, '').trim() !== '';
}

const markdown = new Marked({ gfm: true, breaks: false });

/** Renders markdown to sanitized HTML. */
function renderMarkdown(source: string, context: SanitizeContext): string {
  return sanitize(markdown.parse(source, { async: false }), context);
}

/** Terminal text (stream, traceback, plain repr) as a `<pre>` with colour classes. */
function terminalBlock(text: string, className: string): string {
  return `<pre class="${className}">${ansiToHtml(applyCarriageReturns(text))}</pre>`;
}

/** A pixel dimension from output metadata, if it is a sane number. */
function dimension(value: JSONValue | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? Math.round(value)
    : null;
}

/** `width`/`height` attributes for an image output from its metadata. */
function imageSizeAttrs(metadata: JSONObject, mime: string): string {
  const meta = metadata[mime];
  const source = isJSONObject(meta) ? meta : metadata;
  const width = dimension(source.width);
  const height = dimension(source.height);
  return (
    (width === null ? '' : ` width="${width}"`) + (height === null ? '' : ` height="${height}"`)
  );
}

/** Renders one rich output (display data or execute result). */
function renderRichOutput(
  output: DisplayDataOutput | ExecuteResultOutput,
  cellIndex: number,
  outputIndex: number,
  assets: AssetCollector,
): string {
  const data: MimeBundle = output.data;
  const prefix = `cell${cellIndex}-out${outputIndex}`;
  const alt = `output ${outputIndex} of cell ${cellIndex}`;

  const metric = metricOf(data);
  if (metric !== null) {
    return (
      `<div class="output-metric"><span class="metric-label">metric</span> ` +
      `<span class="metric-name">${escapeHtml(metric.name)}</span> = ` +
      `<span class="metric-value">${escapeHtml(formatValue(metric.value))}</span></div>`
    );
  }

  const html = mimeText(data['text/html']);
  if (html !== null) {
    const clean = sanitize(html, { assets, prefix });
    if (hasVisibleContent(clean)) {
      return `<div class="output-html">${clean}</div>`;
    }
  }

  const svg = mimeText(data['image/svg+xml']);
  if (svg !== null) {
    const url = assets.add(`${prefix}.svg`, svg);
    return (
      `<div class="output-image"><img src="${escapeHtml(url)}" alt="${escapeHtml(alt)}"` +
      `${imageSizeAttrs(output.metadata, 'image/svg+xml')}></div>`
    );
  }

  for (const [mime, ext] of Object.entries(RASTER_TYPES)) {
    const b64 = mimeText(data[mime]);
    if (b64 !== null) {
      const url = assets.add(`${prefix}.${ext}`, decodeBase64(b64));
      return (
        `<div class="output-image"><img src="${escapeHtml(url)}" alt="${escapeHtml(alt)}"` +
        `${imageSizeAttrs(output.metadata, mime)}></div>`
      );
    }
  }

  const md = mimeText(data['text/markdown']);
  if (md !== null) {
    return `<div class="output-markdown markdown">${renderMarkdown(md, { assets, prefix })}</div>`;
  }

  const latex = mimeText(data['text/latex']);
  if (latex !== null) {
    return `<pre class="output-latex">${escapeHtml(latex)}</pre>`;
  }

  const json = data['application/json'];
  if (json !== undefined) {
    return `<pre class="output-json">${escapeHtml(JSON.stringify(json, null, 2))}</pre>`;
  }

  const plain = mimeText(data['text/plain']);
  if (plain !== null) {
    return terminalBlock(plain, 'output-text');
  }

  const mimes = Object.keys(data);
  return (
    `<div class="output-placeholder">output not shown in the report (` +
    `${escapeHtml(mimes.length === 0 ? 'no data' : mimes.join(', '))})</div>`
  );
}

/** Renders a cell's outputs; consecutive stream chunks of one stream are shown together. */
function renderOutputs(cell: CodeCell, cellIndex: number, assets: AssetCollector): string {
  const parts: string[] = [];
  let stream: { name: string; text: string } | null = null;
  const flush = (): void => {
    if (stream !== null && stream.text !== '') {
      parts.push(terminalBlock(stream.text, `output-stream output-${stream.name}`));
    }
    stream = null;
  };
  cell.outputs.forEach((output: Output, outputIndex) => {
    if (output.output_type === 'stream') {
      const text = multilineText(output.text);
      if (stream !== null && stream.name === output.name) {
        stream.text += text;
      } else {
        flush();
        stream = { name: output.name, text };
      }
      return;
    }
    flush();
    if (output.output_type === 'error') {
      const traceback =
        output.traceback.length > 0
          ? output.traceback.join('\n')
          : `${output.ename}: ${output.evalue}`;
      parts.push(terminalBlock(traceback, 'output-error'));
      return;
    }
    const prompt =
      output.output_type === 'execute_result' && output.execution_count !== null
        ? `<div class="out-prompt">Out [${output.execution_count}]</div>`
        : '';
    parts.push(prompt + renderRichOutput(output, cellIndex, outputIndex, assets));
  });
  flush();
  return parts.length === 0 ? '' : `<div class="outputs">${parts.join('\n')}</div>`;
}

/** The status chip and duration of a code cell. */
function cellStatusChips(info: CellRunInfo | null): string {
  if (info === null) {
    return '<span class="chip chip-muted">not in this run</span>';
  }
  const duration =
    info.durationMs !== null && info.status !== 'skipped' && info.status !== 'aborted'
      ? `<span class="cell-duration">${escapeHtml(formatDuration(info.durationMs))}</span>`
      : '';
  return (
    `<span class="chip status-chip status-${info.status}">` +
    `${escapeHtml(CELL_STATUS_LABELS[info.status])}</span>${duration}`
  );
}

/** Renders one cell as a section with id `cell-<index>`. */
function renderCell(cell: Cell, index: number, assets: AssetCollector): string {
  const source = multilineText(cell.source);
  if (cell.cell_type === 'markdown') {
    const attachments = isJSONObject(cell.attachments) ? cell.attachments : undefined;
    const body = renderMarkdown(source, { assets, prefix: `cell${index}`, attachments });
    return `<section class="cell cell-markdown" id="cell-${index}"><div class="markdown">${body}</div></section>`;
  }
  if (cell.cell_type === 'raw') {
    if (source.trim() === '') {
      return '';
    }
    return (
      `<section class="cell cell-raw" id="cell-${index}"><div class="cell-head">` +
      `<a class="cell-index" href="#cell-${index}">cell ${index}</a>` +
      `<span class="chip chip-muted">raw</span></div>` +
      `<pre class="source">${escapeHtml(source)}</pre></section>`
    );
  }
  const info = cellRunInfo(cell);
  const statusClass = info === null ? 'status-none' : `status-${info.status}`;
  const count = cell.execution_count === null ? ' ' : String(cell.execution_count);
  const stage =
    info !== null && info.stage !== null
      ? `<span class="chip chip-stage">${escapeHtml(info.stage)}</span>`
      : '';
  const sourceBlock =
    source.trim() === ''
      ? ''
      : `<pre class="source"><code>${escapeHtml(source.replace(/\n$/, ''))}</code></pre>`;
  return (
    `<section class="cell cell-code ${statusClass}" id="cell-${index}">` +
    `<div class="cell-head"><span class="in-prompt">In [${escapeHtml(count)}]</span>` +
    `<a class="cell-index" href="#cell-${index}">cell ${index}</a>${stage}` +
    `<span class="spacer"></span>${cellStatusChips(info)}</div>` +
    `${sourceBlock}${renderOutputs(cell, index, assets)}</section>`
  );
}

/** A readable UTC timestamp (`2024-05-01 12:00:03 UTC`), or the raw text when unparsable. */
function formatTimestamp(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A value cell of a parameters/metrics/environment table. */
function valueCell(value: JSONValue): string {
  if (typeof value === 'object' && value !== null) {
    const compact = JSON.stringify(value);
    const text = compact.length <= 60 ? compact : JSON.stringify(value, null, 2);
    return `<td class="value"><pre>${escapeHtml(text)}</pre></td>`;
  }
  const kind = typeof value === 'number' ? ' number' : '';
  return `<td class="value${kind}"><code>${escapeHtml(formatValue(value))}</code></td>`;
}

/** A two-column table of name/value pairs, or nothing when empty. */
function keyValueTable(heading: string, className: string, entries: [string, JSONValue][]): string {
  if (entries.length === 0) {
    return '';
  }
  const rows = entries
    .map(([name, value]) => `<tr><th scope="row">${escapeHtml(name)}</th>${valueCell(value)}</tr>`)
    .join('');
  return `<section class="panel ${className}"><h2>${escapeHtml(heading)}</h2><table class="kv">${rows}</table></section>`;
}

/** The metrics of the run: notebook-level ones, else those found in the outputs. */
function collectMetrics(nb: Notebook, run: RunInfo): [string, JSONValue][] {
  const recorded = Object.entries(run.metrics);
  if (recorded.length > 0) {
    return recorded;
  }
  const found = new Map<string, JSONValue>();
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') {
      continue;
    }
    for (const output of cell.outputs) {
      if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
        const metric = metricOf(output.data);
        if (metric !== null) {
          found.set(metric.name, metric.value);
        }
      }
    }
  }
  return [...found.entries()];
}

/** The failing cell and what went wrong, linked to the cell. */
function exceptionSummary(nb: Notebook, run: RunInfo): string {
  let cellIndex = run.exception?.cellIndex ?? null;
  let headline = '';
  if (run.exception !== null) {
    const { ename, evalue } = run.exception;
    headline = evalue === '' ? ename : `${ename}: ${evalue}`;
  }
  if (cellIndex === null) {
    // No recorded exception: point at the first cell that did not end well.
    const failed = nb.cells.findIndex((cell) => {
      const info = cellRunInfo(cell);
      return (
        info !== null && ['error', 'timeout', 'kernel_died', 'cancelled'].includes(info.status)
      );
    });
    if (failed >= 0) {
      cellIndex = failed;
      const info = cellRunInfo(nb.cells[failed]);
      if (headline === '' && info !== null) {
        headline = CELL_STATUS_LABELS[info.status];
      }
    }
  }
  if (cellIndex === null && headline === '') {
    return '';
  }
  const where =
    cellIndex === null
      ? ''
      : `<a class="exception-link" href="#cell-${cellIndex}">cell ${cellIndex}</a> `;
  return (
    `<section class="exception" role="alert"><h2>What went wrong</h2>` +
    `<p>${where}<code class="exception-text">${escapeHtml(stripAnsi(headline))}</code></p></section>`
  );
}

/** Counts of cells by status, for the header. */
function cellCounts(nb: Notebook): string {
  const counts = new Map<CellStatus, number>();
  for (const cell of nb.cells) {
    const info = cellRunInfo(cell);
    if (info !== null) {
      counts.set(info.status, (counts.get(info.status) ?? 0) + 1);
    }
  }
  if (counts.size === 0) {
    return '';
  }
  const order: CellStatus[] = [
    'ok',
    'error',
    'timeout',
    'kernel_died',
    'cancelled',
    'skipped',
    'aborted',
  ];
  return order
    .filter((status) => counts.has(status))
    .map(
      (status) =>
        `<span class="chip status-chip status-${status}">${counts.get(status)} ${escapeHtml(
          CELL_STATUS_LABELS[status],
        )}</span>`,
    )
    .join(' ');
}

/** The header: title, status, facts, exception, parameters, metrics. */
function renderHeader(nb: Notebook, run: RunInfo, title: string): string {
  const status = run.status;
  const badge =
    status === null
      ? '<span class="badge badge-unknown">not run by nbstage</span>'
      : `<span class="badge badge-${status}">${escapeHtml(RUN_STATUS_LABELS[status])}</span>`;
  const facts: [string, string][] = [];
  if (run.kernel !== null) {
    facts.push(['Kernel', escapeHtml(run.kernel)]);
  }
  if (run.duration !== null) {
    facts.push(['Duration', escapeHtml(formatDuration(run.duration * 1000))]);
  }
  if (run.start !== null) {
    facts.push(['Started', escapeHtml(formatTimestamp(run.start))]);
  }
  if (run.job !== null) {
    facts.push(['Job', escapeHtml(run.build === null ? run.job : `${run.job} #${run.build}`)]);
  }
  if (run.stages.length > 0) {
    facts.push(['Stages', run.stages.map((s) => `<code>${escapeHtml(s)}</code>`).join(' ')]);
  }
  if (run.runId !== null) {
    facts.push(['Run', `<code>${escapeHtml(run.runId)}</code>`]);
  }
  const counts = cellCounts(nb);
  if (counts !== '') {
    facts.push(['Cells', counts]);
  }
  const factList = facts
    .map(([name, value]) => `<div class="fact"><dt>${name}</dt><dd>${value}</dd></div>`)
    .join('');
  const environment =
    run.environment === null || Object.keys(run.environment).length === 0
      ? ''
      : `<details class="environment"><summary>Environment</summary><table class="kv">${Object.entries(
          run.environment,
        )
          .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th>${valueCell(v)}</tr>`)
          .join('')}</table></details>`;
  return (
    `<header class="report-header status-${status ?? 'unknown'}">` +
    `<div class="title-row"><h1>${escapeHtml(title)}</h1>${badge}</div>` +
    `<dl class="facts">${factList}</dl>${environment}</header>` +
    exceptionSummary(nb, run) +
    `<div class="panels">` +
    keyValueTable('Parameters', 'parameters', Object.entries(run.parameters)) +
    keyValueTable('Metrics', 'metrics', collectMetrics(nb, run)) +
    `</div>`
  );
}

/** A heading that opens a stage (or the preamble) in the list of cells. */
function stageHeading(stage: string | null): string {
  return stage === null
    ? '<h2 class="stage-heading stage-preamble"><span class="stage-label">preamble</span></h2>'
    : `<h2 class="stage-heading"><span class="stage-label">stage</span> ${escapeHtml(stage)}</h2>`;
}

/** Renders the cells, with a heading before the first cell of each stage. */
function renderCells(nb: Notebook, assets: AssetCollector): string {
  const parts: string[] = [];
  const hasStages = nb.cells.some((cell) => (cellRunInfo(cell)?.stage ?? null) !== null);
  let currentStage: string | null | undefined;
  nb.cells.forEach((cell, index) => {
    const info = cell.cell_type === 'code' ? cellRunInfo(cell) : null;
    if (hasStages && info !== null && info.stage !== currentStage) {
      currentStage = info.stage;
      parts.push(stageHeading(info.stage));
    }
    parts.push(renderCell(cell, index, assets));
  });
  return parts.filter((p) => p !== '').join('\n');
}

/**
 * Renders an executed notebook as a standalone HTML page plus the files it refers to (the
 * stylesheet and every image, under `options.assetsDirName`). The page holds no script, no
 * `style` attribute and no `data:` URI, so it reads the same under Jenkins' CSP as from disk.
 */
export function renderHtml(nb: Notebook, options: HtmlReportOptions): HtmlReport {
  const assets = new AssetCollector(options.assetsDirName);
  const cssUrl = assets.add('report.css', loadStylesheet());
  const run = runInfo(nb);
  const body =
    renderHeader(nb, run, options.title) + `<main class="cells">${renderCells(nb, assets)}</main>`;
  const html = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="nbstage">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<link rel="stylesheet" href="${escapeHtml(cssUrl)}">`,
    '</head>',
    '<body>',
    `<div class="page">${body}`,
    `<footer class="report-footer">Generated by nbstage${
      run.end !== null ? ` · ${escapeHtml(formatTimestamp(run.end))}` : ''
    }</footer></div>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
  return { html, assets: assets.assets };
}

/**
 * Writes the HTML report to `reportPath` and its assets into `<basename>_files/` beside it.
 * Assets are written first so the page never refers to a missing file; files left in the assets
 * folder by an earlier report of the same name are removed.
 */
export async function writeHtmlReport(
  reportPath: string,
  nb: Notebook,
  title: string,
): Promise<void> {
  const dir = path.dirname(reportPath);
  const base = path.basename(reportPath, path.extname(reportPath));
  const assetsDirName = `${base}_files`;
  const { html, assets } = renderHtml(nb, { title, assetsDirName });
  const assetsDir = path.join(dir, assetsDirName);
  const written = new Set<string>();
  for (const asset of assets) {
    const target = path.join(dir, asset.name);
    await writeFileAtomic(target, asset.data);
    written.add(path.basename(target));
  }
  for (const entry of await readdir(assetsDir, { withFileTypes: true })) {
    if (entry.isFile() && !written.has(entry.name)) {
      await rm(path.join(assetsDir, entry.name), { force: true });
    }
  }
  await writeFileAtomic(reportPath, html);
}
