/**
 * Metric trends: the values notebooks record with `nbstage.record(name, value)`, across the
 * builds of a job, one small inline SVG line chart per numeric metric, drawn on the server (no
 * script, no chart library). Each point links to its build and names it in a tooltip.
 */
import { escapeHtml } from '../../pipelines/reports/ansi';
import type { BuildVersion } from '../store/types';

/** One build's value of a metric. */
export interface TrendPoint {
  build: string;
  value: number;
  /** The build's page. */
  href: string;
}

/** A metric across builds, oldest build first. */
export interface Trend {
  name: string;
  points: TrendPoint[];
}

const WIDTH = 420;
const HEIGHT = 170;
const LEFT = 58;
const RIGHT = 14;
const TOP = 14;
const BOTTOM = 28;

/**
 * The numeric metrics of a job's builds (given newest first, as the store lists them), each with
 * its values oldest build first; builds without a finite number for a metric are left out of its
 * line. Metrics are in the order they first appear, newest build first.
 */
export function metricTrends(builds: BuildVersion[], href: (build: string) => string): Trend[] {
  const trends = new Map<string, TrendPoint[]>();
  for (const build of builds) {
    for (const [name, value] of Object.entries(build.metrics)) {
      if (typeof value === 'number' && Number.isFinite(value)) {
        const points = trends.get(name) ?? [];
        points.push({ build: build.build, value, href: href(build.build) });
        trends.set(name, points);
      }
    }
  }
  return [...trends.entries()].map(([name, points]) => ({ name, points: points.reverse() }));
}

/** A number short enough for an axis label. */
export function shortNumber(value: number): string {
  if (value === 0) {
    return '0';
  }
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-3) {
    return value.toExponential(2);
  }
  return String(Number(value.toPrecision(4)));
}

/** The value range a chart spans: the data's, widened when every value is the same. */
function range(values: number[]): [number, number] {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  return [low, high];
}

/** The chart of one metric as an inline SVG figure. */
export function trendChart(trend: Trend): string {
  const values = trend.points.map((p) => p.value);
  const [low, high] = range(values);
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const n = trend.points.length;
  const x = (i: number): number => LEFT + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (v: number): number => TOP + plotH - ((v - low) / (high - low)) * plotH;
  const fmt = (v: number): string => v.toFixed(1);

  const grid = [low, (low + high) / 2, high]
    .map(
      (v) =>
        `<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${fmt(y(v))}" y2="${fmt(y(v))}"/>` +
        `<text class="axis" x="${LEFT - 6}" y="${fmt(y(v) + 4)}" text-anchor="end">${escapeHtml(
          shortNumber(v),
        )}</text>`,
    )
    .join('');
  const first = trend.points[0];
  const last = trend.points[n - 1];
  const xLabels =
    `<text class="axis" x="${fmt(x(0))}" y="${HEIGHT - 8}" text-anchor="${n === 1 ? 'middle' : 'start'}">#${escapeHtml(first.build)}</text>` +
    (n > 1
      ? `<text class="axis" x="${fmt(x(n - 1))}" y="${HEIGHT - 8}" text-anchor="end">#${escapeHtml(last.build)}</text>`
      : '');
  const line =
    n > 1
      ? `<polyline class="line" points="${trend.points
          .map((p, i) => `${fmt(x(i))},${fmt(y(p.value))}`)
          .join(' ')}"/>`
      : '';
  const dots = trend.points
    .map(
      (p, i) =>
        `<a href="${escapeHtml(p.href)}"><circle class="dot" cx="${fmt(x(i))}" cy="${fmt(
          y(p.value),
        )}" r="4"><title>#${escapeHtml(p.build)}: ${escapeHtml(String(p.value))}</title></circle></a>`,
    )
    .join('');
  const label = `${trend.name} across ${n} build${n === 1 ? '' : 's'}, from ${shortNumber(
    first.value,
  )} to ${shortNumber(last.value)}`;
  return (
    `<figure class="trend" data-metric="${escapeHtml(trend.name)}">` +
    `<figcaption><span class="metric-name">${escapeHtml(trend.name)}</span> ` +
    `<span class="muted">latest ${escapeHtml(shortNumber(last.value))}</span></figcaption>` +
    `<svg class="trend-chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(label)}">` +
    `${grid}${xLabels}${line}${dots}</svg></figure>`
  );
}
