/**
 * One stored build of a job rendered as a notebook: the report's header (status, facts, what
 * went wrong, parameters, metrics), links to the Jenkins build, the notebook file, the diff
 * with the build before and, for a reproduction, the build it ran again, then every cell (see `notebook-view.ts` for how outputs are shown).
 */
import type { JSONObject } from '../../../pipelines/notebook/model';
import { escapeHtml } from '../../../pipelines/reports/ansi';
import { isJSONObject } from '../../../pipelines/reports/run-metadata';
import type { Principal } from '../../auth/types';
import type { BuildVersion, ShownVersion } from '../../store/types';
import { buildHref, diffHref, jobHref, renderPage, uriSegment } from '../layout';
import { renderCells, renderNotebookHeader } from '../notebook-view';

/** What the version page shows. */
export interface VersionPageData {
  principal: Principal;
  job: string;
  build: string;
  shown: ShownVersion;
  /** The job's builds, newest first (for the Jenkins link and neighbours). */
  builds: BuildVersion[];
}

/** The version page. */
export function versionPage(data: VersionPageData): string {
  const { job, build } = data;
  const at = data.builds.findIndex((v) => v.build === build);
  const previous = at < 0 ? undefined : data.builds[at + 1];
  const next = at <= 0 ? undefined : data.builds[at - 1];
  const jenkins = at < 0 ? null : data.builds[at].jenkinsUrl;
  // A reproduction (`nbstage reproduce`) links the build it ran again, and the diff with it.
  const reproduces = data.shown.run.reproduces;
  const original =
    isJSONObject(reproduces ?? null) && typeof (reproduces as JSONObject).build === 'string'
      ? ((reproduces as JSONObject).build as string)
      : null;
  const notebookHref = `/api/v1/jobs/${uriSegment(job)}/builds/${uriSegment(build)}/notebook`;
  const links = [
    previous === undefined
      ? ''
      : `<a href="${escapeHtml(buildHref(job, previous.build))}">‹ #${escapeHtml(previous.build)}</a>`,
    next === undefined
      ? ''
      : `<a href="${escapeHtml(buildHref(job, next.build))}">#${escapeHtml(next.build)} ›</a>`,
    original === null
      ? ''
      : `<a class="reproduces" href="${escapeHtml(buildHref(job, original))}">Reproduces #${escapeHtml(original)}</a>`,
    original === null || original === previous?.build
      ? ''
      : `<a href="${escapeHtml(diffHref(job, original, build))}">Diff with #${escapeHtml(original)}</a>`,
    previous === undefined
      ? ''
      : `<a href="${escapeHtml(diffHref(job, previous.build, build))}">Diff with #${escapeHtml(previous.build)}</a>`,
    jenkins !== null && /^https?:\/\//i.test(jenkins)
      ? `<a class="jenkins" href="${escapeHtml(jenkins)}" rel="noopener noreferrer">Jenkins build</a>`
      : '',
    `<a href="${escapeHtml(notebookHref)}" download>Notebook (.ipynb)</a>`,
    `<code class="muted">${escapeHtml(data.shown.commit.slice(0, 12))}</code>`,
  ].filter((l) => l !== '');
  return renderPage({
    title: `${job} #${build}`,
    principal: data.principal,
    crumbs: [{ label: job, href: jobHref(job) }, { label: `#${build}` }],
    scripts: ['web.js'],
    body:
      `<div class="toolbar">${links.join('<span class="sep">·</span>')}</div>` +
      renderNotebookHeader(data.shown.notebook, `${job} #${build}`) +
      `<main class="cells notebook">${renderCells(data.shown.notebook, new Set(), { notebook: notebookHref })}</main>`,
  });
}
