/**
 * Two builds of a job side by side: their status, the metrics and parameters that changed (with
 * the numeric change), each one's checks against its own baseline (verdict, gates), what differs
 * in the environments they recorded (packages, other fields), and every cell whose source or
 * outputs differ, build A on the left and B on the right, lines aligned (removed lines red on the
 * left, added ones green on the right), with each side's check of the cell.
 * The comparison itself is the store's (`NotebookDiff`); this page only lays it out.
 */
import type { PackageChange } from '../../../pipelines/environment/diff';
import { environmentDiffers, environmentValueText } from '../../../pipelines/environment/diff';
import { escapeHtml, stripAnsi } from '../../../pipelines/reports/ansi';
import { formatValue } from '../../../pipelines/reports/format';
import type { JSONValue } from '../../../pipelines/notebook/model';
import { checkChip } from '../../../pipelines/reports/html-cells';
import type { RecordedChecks, RecordedGate } from '../../../pipelines/reports/run-metadata';
import type { Principal } from '../../auth/types';
import { diffText } from '../../store/line-diff';
import type {
  BuildVersion,
  CellChange,
  DiffLine,
  NotebookDiff,
  OutputChange,
  ValueChange,
} from '../../store/types';
import { buildHref, jobHref, renderPage, statusBadge } from '../layout';
import { shortNumber } from '../trend-chart';
import { compareForm } from './job-page';

/** What the diff page shows. */
export interface DiffPageData {
  principal: Principal;
  diff: NotebookDiff;
  /** The job's builds, newest first (for the form to pick two others). */
  builds: BuildVersion[];
}

/** One row of a side-by-side diff: a line of A, of B, or both (null: nothing on that side). */
export interface SideBySideRow {
  a: { op: ' ' | '-'; line: string } | null;
  b: { op: ' ' | '+'; line: string } | null;
}

/**
 * Lays a line diff out in two columns: kept lines on both sides, and each run of removed lines
 * beside the run of added lines that replaces it.
 */
export function sideBySide(lines: DiffLine[]): SideBySideRow[] {
  const rows: SideBySideRow[] = [];
  let removed: string[] = [];
  let added: string[] = [];
  const flush = (): void => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) {
      rows.push({
        a: i < removed.length ? { op: '-', line: removed[i] } : null,
        b: i < added.length ? { op: '+', line: added[i] } : null,
      });
    }
    removed = [];
    added = [];
  };
  for (const { op, line } of lines) {
    if (op === '-') {
      removed.push(line);
    } else if (op === '+') {
      added.push(line);
    } else {
      flush();
      rows.push({ a: { op: ' ', line }, b: { op: ' ', line } });
    }
  }
  flush();
  return rows;
}

function side(cell: SideBySideRow['a'] | SideBySideRow['b']): string {
  if (cell === null) {
    return '<td class="line empty"></td>';
  }
  const kind = cell.op === '-' ? ' removed' : cell.op === '+' ? ' added' : '';
  return `<td class="line${kind}"><code>${escapeHtml(cell.line) || ' '}</code></td>`;
}

/** A side-by-side table of a line diff. */
function diffTable(lines: DiffLine[], className: string): string {
  const rows = sideBySide(lines)
    .map((row) => `<tr>${side(row.a)}${side(row.b)}</tr>`)
    .join('');
  return `<table class="sbs ${className}"><tbody>${rows}</tbody></table>`;
}

/** The numeric change of a value, `+0.05`, or empty when either side is not a number. */
function delta(change: ValueChange): string {
  if (typeof change.a !== 'number' || typeof change.b !== 'number') {
    return '';
  }
  const d = change.b - change.a;
  const cls = d > 0 ? 'up' : d < 0 ? 'down' : '';
  return `<span class="delta ${cls}">${d > 0 ? '+' : ''}${escapeHtml(shortNumber(d))}</span>`;
}

function value(v: JSONValue | null): string {
  return v === null ? '<span class="muted">—</span>' : `<code>${escapeHtml(formatValue(v))}</code>`;
}

function valuesTable(
  title: string,
  className: string,
  changes: ValueChange[],
  deltas: boolean,
): string {
  if (changes.length === 0) {
    return '';
  }
  const rows = changes
    .map(
      (c) =>
        `<tr data-name="${escapeHtml(c.name)}"><th scope="row">${escapeHtml(c.name)}</th><td>${value(c.a)}</td><td>${value(c.b)}</td>` +
        (deltas ? `<td>${delta(c)}</td>` : '') +
        '</tr>',
    )
    .join('');
  return (
    `<section class="panel ${className}"><h2>${escapeHtml(title)}</h2><table class="kv changes">` +
    `<thead><tr><th></th><th>A</th><th>B</th>${deltas ? '<th>change</th>' : ''}</tr></thead>` +
    `<tbody>${rows}</tbody></table></section>`
  );
}

function outputChange(change: OutputChange): string {
  const title =
    `<div class="output-change-head"><span class="chip chip-muted">${escapeHtml(change.outputType)}</span> ` +
    `output ${change.index} ${escapeHtml(change.change)}</div>`;
  if (change.kind === 'image') {
    return `<div class="output-change">${title}<p class="muted">image (${escapeHtml(change.mime ?? 'image')}) ${escapeHtml(change.change)}</p></div>`;
  }
  return `<div class="output-change">${title}${diffTable(
    diffText(stripAnsi(change.a ?? ''), stripAnsi(change.b ?? '')),
    'output-diff',
  )}</div>`;
}

/** A side's verdict as a chip. */
function verdictChip(checks: RecordedChecks | null): string {
  if (checks === null) {
    return '<span class="muted">not checked</span>';
  }
  return checks.passed
    ? '<span class="chip check-chip check-same">passed</span>'
    : '<span class="chip check-chip check-differs">failed</span>';
}

function gateCell(gate: RecordedGate | undefined): string {
  if (gate === undefined) {
    return '<td><span class="muted">—</span></td>';
  }
  const chip = gate.passed
    ? '<span class="chip check-chip check-same">passed</span>'
    : '<span class="chip check-chip check-differs">failed</span>';
  return `<td title="${escapeHtml(gate.message)}">${value(gate.value)} ${chip}</td>`;
}

/**
 * Each side's checks against its own baseline, side by side: the verdict, the baseline, the
 * cells compared and every gate either side had. Empty when neither run was checked.
 */
function checksTable(diff: NotebookDiff): string {
  const { a, b } = diff.checks;
  if (a === null && b === null) {
    return '';
  }
  const baseline = (c: RecordedChecks | null): string => {
    if (c === null) {
      return '<span class="muted">—</span>';
    }
    if (c.baseline !== null) {
      return escapeHtml(c.baseline);
    }
    return `<span class="muted"${c.note === null ? '' : ` title="${escapeHtml(c.note)}"`}>none</span>`;
  };
  const cells = (c: RecordedChecks | null): string =>
    c === null
      ? '<span class="muted">—</span>'
      : `${c.cells.same} as the baseline, ${c.cells.differs} differ, ${c.cells.skipped} not compared`;
  const names = [...new Set([...(a?.gates ?? []), ...(b?.gates ?? [])].map((g) => g.gate))];
  const gates = names
    .map((name) => {
      const of = (c: RecordedChecks | null): RecordedGate | undefined =>
        c?.gates.find((g) => g.gate === name);
      return (
        `<tr data-gate="${escapeHtml(name)}"><th scope="row"><code>${escapeHtml(name)}</code></th>` +
        `${gateCell(of(a))}${gateCell(of(b))}</tr>`
      );
    })
    .join('');
  return (
    '<section class="panel check-changes"><h2>Checks</h2><table class="kv changes">' +
    '<thead><tr><th></th><th>A</th><th>B</th></tr></thead><tbody>' +
    `<tr><th scope="row">verdict</th><td>${verdictChip(a)}</td><td>${verdictChip(b)}</td></tr>` +
    `<tr><th scope="row">baseline</th><td>${baseline(a)}</td><td>${baseline(b)}</td></tr>` +
    `<tr><th scope="row">cells</th><td>${cells(a)}</td><td>${cells(b)}</td></tr>` +
    `${gates}</tbody></table></section>`
  );
}

function envValue(v: JSONValue): string {
  return v === null
    ? '<span class="muted">—</span>'
    : `<code>${escapeHtml(environmentValueText(v))}</code>`;
}

/**
 * What differs in the environments the two runs recorded: the packages added, removed and
 * changed (name, A's version, B's), then the other fields by dotted path; "Same environment."
 * when nothing does, and which build recorded none when one did not.
 */
function environmentTable(diff: NotebookDiff): string {
  const env = diff.environment;
  const section = (body: string): string =>
    `<section class="panel env-changes"><h2>Environment</h2>${body}</section>`;
  const missing = [
    ...new Set([
      ...(env.recorded.a ? [] : [`#${diff.a.build}`]),
      ...(env.recorded.b ? [] : [`#${diff.b.build}`]),
    ]),
  ];
  if (missing.length > 0) {
    return section(`<p class="muted">Not recorded in ${escapeHtml(missing.join(' and '))}.</p>`);
  }
  if (!environmentDiffers(env)) {
    return section('<p class="muted same-environment">Same environment.</p>');
  }
  const { added, removed, changed } = env.packages;
  const packageRows = (kind: string, changes: PackageChange[]): string =>
    changes
      .map(
        (c) =>
          `<tr class="package-${kind}" data-package="${escapeHtml(c.name)}"><th scope="row"><code>${escapeHtml(c.name)}</code></th>` +
          `<td>${envValue(c.from)}</td><td>${envValue(c.to)}</td></tr>`,
      )
      .join('');
  const packages =
    added.length + removed.length + changed.length === 0
      ? ''
      : '<table class="kv changes env-packages"><thead><tr><th>package</th><th>A</th><th>B</th></tr></thead><tbody>' +
        `${packageRows('added', added)}${packageRows('removed', removed)}${packageRows('changed', changed)}</tbody></table>`;
  const fields =
    env.changes.length === 0
      ? ''
      : '<table class="kv changes env-fields"><thead><tr><th>field</th><th>A</th><th>B</th></tr></thead><tbody>' +
        env.changes
          .map(
            (c) =>
              `<tr data-field="${escapeHtml(c.field)}"><th scope="row"><code>${escapeHtml(c.field)}</code></th>` +
              `<td>${envValue(c.from)}</td><td>${envValue(c.to)}</td></tr>`,
          )
          .join('') +
        '</tbody></table>';
  return section(packages + fields);
}

/** Each side's check of a changed cell, under its build number, and what differed. */
function cellChecks(change: CellChange): { a: string; b: string; notes: string } {
  const checks = change.checks;
  if (checks === undefined) {
    return { a: '', b: '', notes: '' };
  }
  const note = (check: typeof checks.a): string =>
    check?.status === 'differs'
      ? `<p class="check-note">${escapeHtml(check.message ?? '')}</p>`
      : '';
  const notes = note(checks.a) + note(checks.b);
  return {
    a: checkChip(checks.a),
    b: checkChip(checks.b),
    notes:
      notes === ''
        ? ''
        : `<div class="sbs-head check-notes"><div>${note(checks.a)}</div><div>${note(checks.b)}</div></div>`,
  };
}

function cellChange(diff: NotebookDiff, change: CellChange): string {
  const where = [
    change.indexA === null ? null : `A cell ${change.indexA}`,
    change.indexB === null ? null : `B cell ${change.indexB}`,
  ]
    .filter((w) => w !== null)
    .join(' → ');
  const source =
    change.source === null
      ? '<p class="muted">Source unchanged.</p>'
      : diffTable(change.source, 'source-diff');
  const outputs = change.outputs.map(outputChange).join('');
  const checks = cellChecks(change);
  return (
    `<section class="cell-change change-${change.change}">` +
    `<div class="cell-head"><span class="chip change-chip">${escapeHtml(change.change)}</span>` +
    `<span class="chip chip-muted">${escapeHtml(change.cellType)}</span><span>${escapeHtml(where)}</span></div>` +
    `<div class="sbs-head"><span>#${escapeHtml(diff.a.build)} ${checks.a}</span><span>#${escapeHtml(diff.b.build)} ${checks.b}</span></div>` +
    `${checks.notes}${source}${outputs}</section>`
  );
}

/** The diff page. */
export function diffPage(data: DiffPageData): string {
  const { diff } = data;
  const job = diff.job;
  const side = (label: string, build: string, commit: string, status: string | null): string =>
    `<div class="diff-side"><span class="muted">${label}</span> <a href="${escapeHtml(buildHref(job, build))}">#${escapeHtml(build)}</a> ` +
    `${statusBadge(status)} <code class="muted">${escapeHtml(commit.slice(0, 12))}</code></div>`;
  const nothing =
    diff.cells.length === 0 &&
    diff.metrics.length === 0 &&
    diff.parameters.length === 0 &&
    !diff.status.changed &&
    !environmentDiffers(diff.environment);
  return renderPage({
    title: `${job} #${diff.a.build} vs #${diff.b.build}`,
    principal: data.principal,
    crumbs: [{ label: job, href: jobHref(job) }, { label: `#${diff.a.build} vs #${diff.b.build}` }],
    body:
      `<h1>#${escapeHtml(diff.a.build)} vs #${escapeHtml(diff.b.build)}</h1>` +
      compareForm(job, data.builds, diff.a.build, diff.b.build) +
      `<div class="diff-sides">${side('A', diff.a.build, diff.a.commit, diff.status.a)}${side('B', diff.b.build, diff.b.commit, diff.status.b)}</div>` +
      (nothing ? '<p class="no-changes">No differences.</p>' : '') +
      `<div class="panels">${valuesTable('Metrics', 'metric-changes', diff.metrics, true)}` +
      `${valuesTable('Parameters', 'parameter-changes', diff.parameters, false)}</div>` +
      checksTable(diff) +
      environmentTable(diff) +
      (diff.cells.length === 0
        ? ''
        : `<h2>Cells</h2><div class="cell-changes">${diff.cells.map((c) => cellChange(diff, c)).join('')}</div>`),
  });
}
