/**
 * The header of the HTML report: title, run status, facts (kernel, duration, the largest peak
 * memory of a cell, job, stages), the failing cell, parameters, metrics and environment.
 */
import type { CellStatus } from '../executor/events';
import { formatLimit } from '../executor/output-limits';
import type { JSONValue, Notebook } from '../notebook/model';
import { escapeHtml, stripAnsi } from './ansi';
import { formatDuration, formatValue } from './format';
import type { RunInfo } from './run-metadata';
import { cellPeakRss, cellRunInfo, metricOf, runChecks } from './run-metadata';
import { CELL_STATUS_LABELS, RUN_STATUS_LABELS } from './status-labels';

/** A readable UTC timestamp (`2024-05-01 12:00:03 UTC`), or the raw text when unparsable. */
export function formatTimestamp(iso: string): string {
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

/** The largest peak memory of a cell and that cell's index; null when no cell's was measured. */
function largestPeak(nb: Notebook): { bytes: number; cellIndex: number } | null {
  let largest: { bytes: number; cellIndex: number } | null = null;
  nb.cells.forEach((cell, cellIndex) => {
    const bytes = cellPeakRss(cell);
    if (bytes !== null && (largest === null || bytes > largest.bytes)) {
      largest = { bytes, cellIndex };
    }
  });
  return largest;
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

/** The run's checks (`metadata.nbstage.checks`): the verdict, the baseline, the gates. */
function checksPanel(nb: Notebook): string {
  const checks = runChecks(nb);
  if (checks === null) {
    return '';
  }
  const { passed, cells } = checks;
  const baseline =
    checks.baseline === null ? 'no baseline' : `against ${escapeHtml(checks.baseline)}`;
  const note = checks.note === null ? '' : ` (${escapeHtml(checks.note)})`;
  const gates = checks.gates
    .map(
      (g) =>
        `<tr class="${g.passed ? 'gate-passed' : 'gate-failed'}"><th scope="row"><code>${escapeHtml(g.gate)}</code></th>` +
        `<td>${g.passed ? 'passed' : 'failed'}</td><td>${escapeHtml(g.message)}` +
        `${g.note === undefined ? '' : ` (${escapeHtml(g.note)})`}</td></tr>`,
    )
    .join('');
  return (
    `<section class="panel checks ${passed ? 'checks-passed' : 'checks-failed'}"><h2>Checks: ${passed ? 'passed' : 'failed'}</h2>` +
    `<p>${baseline}${note}: ${cells.same} cells as the baseline, ` +
    `${cells.differs} differ, ${cells.skipped} not compared</p>` +
    `${gates === '' ? '' : `<table class="kv gates">${gates}</table>`}</section>`
  );
}

/** The header: title, status, facts, exception, parameters, metrics. */
export function renderHeader(nb: Notebook, run: RunInfo, title: string): string {
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
  const peak = largestPeak(nb);
  if (peak !== null) {
    facts.push([
      'Peak memory',
      `${escapeHtml(formatLimit(peak.bytes))} (<a href="#cell-${peak.cellIndex}">cell ${peak.cellIndex}</a>)`,
    ]);
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
    checksPanel(nb) +
    `</div>`
  );
}
