/**
 * The cells of the HTML report: each cell as a section with its source, status, duration, peak
 * memory and outputs (rich outputs by mimetype, terminal text with colour classes), under stage
 * headings.
 */
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
import { formatLimit } from '../executor/output-limits';
import { ansiToHtml, applyCarriageReturns, escapeHtml } from './ansi';
import { formatDuration, formatValue } from './format';
import { RASTER_TYPES, decodeBase64, type AssetCollector } from './html-assets';
import { hasVisibleContent, renderMarkdown, sanitize } from './html-sanitize';
import type { CellRunInfo, RecordedCellCheck } from './run-metadata';
import {
  cellCheck,
  cellPeakGpu,
  cellPeakRss,
  cellRunInfo,
  isJSONObject,
  metricOf,
  mimeText,
  multilineText,
} from './run-metadata';
import { CELL_STATUS_LABELS } from './status-labels';

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

/** What the peak of a cell is, for the tooltip on it. */
const PEAK_TITLE = "peak resident memory of the kernel's processes while the cell ran";

/** What the GPU peak of a cell is, for the tooltip on it. */
const GPU_PEAK_TITLE = "peak memory used on the run's GPUs while the cell ran";

/** The status chip, duration and peak memory of a code cell (peaks in bytes, when measured). */
function cellStatusChips(
  info: CellRunInfo | null,
  peak: number | null,
  gpuPeak: number | null,
): string {
  if (info === null) {
    return '<span class="chip chip-muted">not in this run</span>';
  }
  const ran = info.status !== 'skipped' && info.status !== 'aborted';
  const duration =
    info.durationMs !== null && ran
      ? `<span class="cell-duration">${escapeHtml(formatDuration(info.durationMs))}</span>`
      : '';
  const memory =
    peak !== null && ran
      ? `<span class="cell-peak" title="${escapeHtml(PEAK_TITLE)}">peak ${escapeHtml(formatLimit(peak))}</span>`
      : '';
  const gpu =
    gpuPeak !== null && ran
      ? `<span class="cell-peak cell-peak-gpu" title="${escapeHtml(GPU_PEAK_TITLE)}">GPU ${escapeHtml(formatLimit(gpuPeak))}</span>`
      : '';
  return (
    `<span class="chip status-chip status-${info.status}">` +
    `${escapeHtml(CELL_STATUS_LABELS[info.status])}</span>${duration}${memory}${gpu}`
  );
}

/**
 * A code cell's check against the baseline (`metadata.nbstage.check`): a chip, and for a cell
 * whose outputs differ the message and the diff of the normalized outputs.
 */
function checkParts(cell: Cell): { chip: string; body: string } {
  const check = cellCheck(cell);
  if (check?.status !== 'differs') {
    return { chip: checkChip(check), body: '' };
  }
  const diff = check.diff ?? '';
  return {
    chip: checkChip(check),
    body:
      `<div class="check-mismatch"><p>${escapeHtml(check.message ?? '')}</p>` +
      `${diff === '' ? '' : `<pre class="check-diff">${escapeHtml(diff)}</pre>`}</div>`,
  };
}

/** A cell's check as a chip (`report.css` colours it); empty when the cell was not checked. */
export function checkChip(check: RecordedCellCheck | null): string {
  if (check === null) {
    return '';
  }
  if (check.status === 'differs') {
    return '<span class="chip check-chip check-differs">differs from the baseline</span>';
  }
  if (check.status === 'same') {
    return '<span class="chip check-chip check-same">as the baseline</span>';
  }
  const reason = check.reason === null ? '' : `: ${check.reason}`;
  return `<span class="chip chip-muted check-chip" title="${escapeHtml(`not compared${reason}`)}">not compared</span>`;
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
  const check = checkParts(cell);
  return (
    `<section class="cell cell-code ${statusClass}" id="cell-${index}">` +
    `<div class="cell-head"><span class="in-prompt">In [${escapeHtml(count)}]</span>` +
    `<a class="cell-index" href="#cell-${index}">cell ${index}</a>${stage}` +
    `<span class="spacer"></span>${check.chip}${cellStatusChips(info, cellPeakRss(cell), cellPeakGpu(cell))}</div>` +
    `${sourceBlock}${renderOutputs(cell, index, assets)}${check.body}</section>`
  );
}

/** A heading that opens a stage (or the preamble) in the list of cells. */
function stageHeading(stage: string | null): string {
  return stage === null
    ? '<h2 class="stage-heading stage-preamble"><span class="stage-label">preamble</span></h2>'
    : `<h2 class="stage-heading"><span class="stage-label">stage</span> ${escapeHtml(stage)}</h2>`;
}

/** Renders the cells, with a heading before the first cell of each stage. */
export function renderCells(nb: Notebook, assets: AssetCollector): string {
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
