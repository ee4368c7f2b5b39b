/**
 * The page of one job: its runs in flight, its stored builds (status, duration, stages, when,
 * key metrics, the Jenkins build), a form to compare two builds, and one trend chart per metric.
 */
import { escapeHtml } from '../../../pipelines/reports/ansi';
import { formatDuration, formatValue } from '../../../pipelines/reports/format';
import type { Principal } from '../../auth/types';
import type { ServiceRun } from '../../runs/service-run';
import type { BuildVersion } from '../../store/types';
import { buildHref, diffHref, jobHref, renderPage, shortTime, statusBadge } from '../layout';
import { metricTrends, trendChart } from '../trend-chart';
import { runsTable } from './jobs-page';

/** Metric columns in the builds table at most. */
const KEY_METRICS = 4;

/** What the job page shows. */
export interface JobPageData {
  principal: Principal;
  job: string;
  /** Stored builds, newest first. */
  builds: BuildVersion[];
  /** The job's runs in flight. */
  runs: ServiceRun[];
}

/** A Jenkins build link, for http(s) URLs only. */
function jenkinsLink(url: string | null): string {
  return url !== null && /^https?:\/\//i.test(url)
    ? `<a class="jenkins" href="${escapeHtml(url)}" rel="noopener noreferrer">Jenkins</a>`
    : '';
}

/** The names of the metrics worth a column: the first few, newest build first. */
function keyMetrics(builds: BuildVersion[]): string[] {
  const names: string[] = [];
  for (const build of builds) {
    for (const name of Object.keys(build.metrics)) {
      if (!names.includes(name)) {
        names.push(name);
      }
    }
  }
  return names.slice(0, KEY_METRICS);
}

/** A form that opens the diff of two builds (the newest two preselected). */
export function compareForm(job: string, builds: BuildVersion[], a: string, b: string): string {
  if (builds.length < 2) {
    return '';
  }
  const options = (selected: string): string =>
    builds
      .map(
        (v) =>
          `<option value="${escapeHtml(v.build)}"${v.build === selected ? ' selected' : ''}>#${escapeHtml(v.build)}</option>`,
      )
      .join('');
  return (
    `<form class="compare" method="get" action="${escapeHtml(jobHref(job))}/diff">` +
    `<label>Compare <select name="a" aria-label="build A">${options(a)}</select></label>` +
    `<label>with <select name="b" aria-label="build B">${options(b)}</select></label>` +
    '<button type="submit">Show diff</button></form>'
  );
}

/** The job page. */
export function jobPage(data: JobPageData): string {
  const { job, builds } = data;
  const metrics = keyMetrics(builds);
  const head =
    '<tr><th>Build</th><th>Status</th><th>Started (UTC)</th><th>Duration</th><th>Stages</th>' +
    metrics.map((m) => `<th class="number">${escapeHtml(m)}</th>`).join('') +
    '<th>Jenkins</th><th>Diff</th></tr>';
  const rows = builds
    .map((v, i) => {
      const previous = builds[i + 1];
      const cells = metrics
        .map((m) => {
          const value = v.metrics[m];
          return `<td class="number">${value === undefined ? '' : escapeHtml(formatValue(value))}</td>`;
        })
        .join('');
      return (
        `<tr data-build="${escapeHtml(v.build)}"><td><a href="${escapeHtml(buildHref(job, v.build))}">#${escapeHtml(v.build)}</a></td>` +
        `<td>${statusBadge(v.status)}</td><td>${escapeHtml(shortTime(v.time))}</td>` +
        `<td>${v.duration === null ? '' : escapeHtml(formatDuration(v.duration * 1000))}</td>` +
        `<td>${v.stages.map((s) => `<span class="chip chip-stage">${escapeHtml(s)}</span>`).join(' ')}</td>` +
        `${cells}<td>${jenkinsLink(v.jenkinsUrl)}</td>` +
        `<td>${
          previous === undefined
            ? ''
            : `<a href="${escapeHtml(diffHref(job, previous.build, v.build))}">vs #${escapeHtml(previous.build)}</a>`
        }</td></tr>`
      );
    })
    .join('');
  const trends = metricTrends(builds, (b) => buildHref(job, b));
  const charts =
    trends.length === 0
      ? '<p class="muted">No numeric metrics recorded yet (<code>nbstage.record("name", value)</code> in a notebook).</p>'
      : `<div class="trends">${trends.map(trendChart).join('')}</div>`;
  const live = data.runs.length === 0 ? '' : `<h2>Running now</h2>${runsTable(data.runs)}`;
  return renderPage({
    title: job,
    principal: data.principal,
    crumbs: [{ label: job }],
    body:
      `<h1 class="job-title">${escapeHtml(job)}</h1>${live}` +
      `<h2>Builds</h2>${compareForm(job, builds, builds[1]?.build ?? '', builds[0]?.build ?? '')}` +
      `<table class="list builds"><thead>${head}</thead><tbody>${rows}</tbody></table>` +
      `<h2>Metric trends</h2>${charts}`,
  });
}
