/**
 * A run while it runs: its state, a progress bar (cells finished of the cells it runs), a cancel
 * button for tokens that may cancel, and its cells as they stand. `/assets/live.js` then follows
 * the run's websocket stream from the event this page was rendered at, and swaps in each cell
 * (rendered here on the server, see `notebook-view.ts`) as its outputs arrive.
 */
import { escapeHtml } from '../../../pipelines/reports/ansi';
import type { Notebook } from '../../../pipelines/notebook/model';
import type { Principal } from '../../auth/types';
import type { ServiceRun } from '../../runs/service-run';
import type { RunProgress } from '../../runs/run-view';
import { buildHref, jobHref, renderPage, statusBadge } from '../layout';
import { renderCells } from '../notebook-view';
import type { ClipLinks } from '../page-clip';

export type { RunProgress } from '../../runs/run-view';

/** What the run page shows. */
export interface RunPageData {
  principal: Principal;
  record: ServiceRun;
  /** The notebook as it stands (null before the run started). */
  notebook: Notebook | null;
  /** Events the page already shows: the live stream goes on from here. */
  seq: number;
  progress: RunProgress;
  /** Whether the token may cancel runs. */
  canCancel: boolean;
}

const IN_FLIGHT = ['queued', 'running'];

/** Where the whole of a run's cells can be read, for output a page leaves out. */
export function runClipLinks(id: string): ClipLinks {
  const base = `/api/v1/runs/${encodeURIComponent(id)}`;
  return {
    notebook: `${base}/notebook`,
    artifact: (name) => `${base}/artifacts/${name.split('/').map(encodeURIComponent).join('/')}`,
  };
}

/** The run page. */
export function runPage(data: RunPageData): string {
  const { record, progress } = data;
  const live = IN_FLIGHT.includes(record.state);
  const cancel =
    data.canCancel && live
      ? '<button type="button" class="danger" data-cancel>Cancel run</button>'
      : '';
  const version = buildHref(record.job, record.build);
  const cells =
    data.notebook === null
      ? '<p class="muted waiting">Waiting for a worker…</p>'
      : renderCells(data.notebook, progress.pending, runClipLinks(record.id));
  return renderPage({
    title: `run ${record.id.slice(0, 8)}`,
    principal: data.principal,
    crumbs: [
      { label: record.job, href: jobHref(record.job) },
      { label: `run ${record.id.slice(0, 8)}` },
    ],
    scripts: ['web.js', 'live.js'],
    body:
      `<section class="run-head" data-run="${escapeHtml(record.id)}" data-seq="${data.seq}" data-live="${live}" data-running="${progress.running ?? ''}">` +
      `<div class="title-row"><h1>${escapeHtml(record.notebookName)}</h1>` +
      `<span data-state>${statusBadge(record.state)}</span>${cancel}</div>` +
      `<p class="muted">Job <a href="${escapeHtml(jobHref(record.job))}">${escapeHtml(record.job)}</a> ` +
      `build #${escapeHtml(record.build)} · by ${escapeHtml(record.createdBy)} · run <code>${escapeHtml(record.id)}</code></p>` +
      `<div class="progress-row"><progress max="${Math.max(progress.total, 1)}" value="${progress.done}"></progress>` +
      `<span data-progress-text>${progress.done} / ${progress.total} cells</span></div>` +
      `<p class="run-message" data-message role="status">${
        record.error === null ? '' : escapeHtml(record.error.message)
      }</p>` +
      `<p data-version${live ? ' hidden' : ''}><a href="${escapeHtml(version)}">Stored version of build #${escapeHtml(record.build)}</a></p>` +
      '</section>' +
      `<main class="cells notebook" data-cells>${cells}</main>`,
  });
}
