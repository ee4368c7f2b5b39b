/**
 * The frame every web page shares: the HTML shell (stylesheets, top bar with the jobs link, who is
 * logged in and the logout button), the headers every page is sent with (a strict
 * Content-Security-Policy: scripts and styles only from this service, no inline script, no
 * framing), and the URLs of the pages, which other code links to (`/jobs/<job>/builds/<build>`,
 * the job as one {@link uriSegment}).
 */
import type { Response } from 'express';
import { escapeHtml } from '../../pipelines/reports/ansi';
import type { Principal } from '../auth/types';

/**
 * The pages' policy. Output frames (`srcdoc`) inherit it, so inline scripts of notebook outputs
 * never run; `img-src data:` is for the notebook's images, which the page carries inline.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * One URL path segment or query value (encodeURIComponent) of any stored text. A lone
 * surrogate, which encodeURIComponent refuses with a URIError, becomes U+FFFD first, as it does
 * when the page itself is sent as UTF-8: a page always renders whatever names are stored.
 */
export function uriSegment(text: string): string {
  return encodeURIComponent(text.replace(LONE_SURROGATE, '\uFFFD'));
}

/** The page of a job. */
export function jobHref(job: string): string {
  return `/jobs/${uriSegment(job)}`;
}

/** The page of one stored build of a job (the URL Jenkins build descriptions link to). */
export function buildHref(job: string, build: string): string {
  return `${jobHref(job)}/builds/${uriSegment(build)}`;
}

/** The page comparing two builds of a job. */
export function diffHref(job: string, a: string, b: string): string {
  return `${jobHref(job)}/diff?a=${uriSegment(a)}&b=${uriSegment(b)}`;
}

/** The live page of a run. */
export function runHref(id: string): string {
  return `/runs/${uriSegment(id)}`;
}

/** One step of the breadcrumb in the top bar; the last has no link. */
export interface Crumb {
  label: string;
  href?: string;
}

/** What a page is made of. */
export interface PageOptions {
  /** The document title (after `nbstage · `). */
  title: string;
  /** Who is logged in (null on the login page). */
  principal: Principal | null;
  /** Breadcrumb after "Jobs". */
  crumbs?: Crumb[];
  /** The page's content (HTML). */
  body: string;
  /** Scripts to load from `/assets/`, deferred. */
  scripts?: string[];
}

/** A status as a badge (report.css colours it by status). */
export function statusBadge(status: string | null): string {
  const name = status ?? 'unknown';
  return `<span class="badge badge-${escapeHtml(name.replace(/[^\w-]/g, '_'))}">${escapeHtml(
    name.replace(/_/g, ' '),
  )}</span>`;
}

/** A readable UTC time (`2024-05-01 12:00`), or the text as it was when it is not a time. */
export function shortTime(iso: string | null): string {
  if (iso === null) {
    return '';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 16).replace('T', ' ');
}

function topBar(principal: Principal | null, crumbs: Crumb[]): string {
  const trail = [{ label: 'Jobs', href: '/' }, ...crumbs]
    .map((c, i, all) =>
      c.href === undefined || i === all.length - 1
        ? `<span class="crumb">${escapeHtml(c.label)}</span>`
        : `<a class="crumb" href="${escapeHtml(c.href)}">${escapeHtml(c.label)}</a>`,
    )
    .join('<span class="crumb-sep">›</span>');
  const who =
    principal === null
      ? ''
      : `<span class="who">${escapeHtml(principal.name)} <span class="chip chip-muted">${escapeHtml(
          principal.role,
        )}</span></span>` +
        '<form class="logout" method="post" action="/logout"><button type="submit">Log out</button></form>';
  return (
    `<nav class="topbar"><a class="brand" href="/">nbstage</a>` +
    `<span class="crumbs">${trail}</span><span class="spacer"></span>${who}</nav>`
  );
}

/** A whole page. */
export function renderPage(options: PageOptions): string {
  const scripts = (options.scripts ?? [])
    .map((name) => `<script src="/assets/${uriSegment(name)}" defer></script>`)
    .join('');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>nbstage · ${escapeHtml(options.title)}</title>`,
    '<link rel="stylesheet" href="/assets/report.css">',
    '<link rel="stylesheet" href="/assets/web.css">',
    scripts,
    '</head>',
    '<body>',
    topBar(options.principal, options.crumbs ?? []),
    `<div class="page">${options.body}</div>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Sends a page with the headers every page gets: the policy, no framing, no sniffing, no caching
 * (pages show private data) and no referrer outside this origin.
 */
export function sendPage(res: Response, status: number, html: string): void {
  res
    .status(status)
    .type('text/html; charset=utf-8')
    .set({
      'Content-Security-Policy': PAGE_CSP,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    })
    .send(html);
}
