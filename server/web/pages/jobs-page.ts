/**
 * The first page: every job with stored builds (its newest build's status, time and number of
 * builds) and the runs the service knows about, in flight first, each linking to its live page.
 */
import { escapeHtml } from '../../../pipelines/reports/ansi';
import type { Principal } from '../../auth/types';
import type { ServiceRun } from '../../runs/service-run';
import type { BuildVersion } from '../../store/types';
import { buildHref, jobHref, renderPage, runHref, shortTime, statusBadge } from '../layout';

/** A job as the list shows it. */
export interface JobSummary {
  name: string;
  /** Its builds, newest first. */
  builds: BuildVersion[];
}

/** What the jobs page shows. */
export interface JobsPageData {
  principal: Principal;
  jobs: JobSummary[];
  /** Runs in flight, then the most recent finished ones. */
  runs: ServiceRun[];
}

/** The table of runs (live pages). */
export function runsTable(runs: ServiceRun[]): string {
  if (runs.length === 0) {
    return '<p class="muted">No runs yet.</p>';
  }
  const rows = runs
    .map(
      (r) =>
        `<tr><td><a href="${escapeHtml(runHref(r.id))}"><code>${escapeHtml(r.id.slice(0, 8))}</code></a></td>` +
        `<td>${statusBadge(r.state)}</td><td>${escapeHtml(r.notebookName)}</td>` +
        `<td><a href="${escapeHtml(jobHref(r.job))}">${escapeHtml(r.job)}</a> #${escapeHtml(r.build)}</td>` +
        `<td>${escapeHtml(shortTime(r.createdAt))}</td><td>${escapeHtml(r.createdBy)}</td></tr>`,
    )
    .join('');
  return (
    '<table class="list runs"><thead><tr><th>Run</th><th>State</th><th>Notebook</th><th>Job</th>' +
    `<th>Created (UTC)</th><th>By</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

/** The jobs page. */
export function jobsPage(data: JobsPageData): string {
  const rows = data.jobs
    .map((job) => {
      const latest = job.builds[0];
      const last =
        latest === undefined
          ? '<td></td><td></td><td></td>'
          : `<td><a href="${escapeHtml(buildHref(job.name, latest.build))}">#${escapeHtml(latest.build)}</a></td>` +
            `<td>${statusBadge(latest.status)}</td><td>${escapeHtml(shortTime(latest.time))}</td>`;
      return (
        `<tr><td><a class="job-link" href="${escapeHtml(jobHref(job.name))}">${escapeHtml(job.name)}</a></td>` +
        `<td class="number">${job.builds.length}</td>${last}</tr>`
      );
    })
    .join('');
  const jobs =
    data.jobs.length === 0
      ? '<p class="muted">No stored builds yet. Runs with a job and build are kept here.</p>'
      : '<table class="list jobs"><thead><tr><th>Job</th><th>Builds</th><th>Latest</th>' +
        `<th>Status</th><th>When (UTC)</th></tr></thead><tbody>${rows}</tbody></table>`;
  return renderPage({
    title: 'Jobs',
    principal: data.principal,
    body: `<h1>Jobs</h1>${jobs}` + `<h2>Runs</h2>${runsTable(data.runs)}`,
  });
}
