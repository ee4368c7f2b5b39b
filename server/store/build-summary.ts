/**
 * A build's entry in a job's history, summed up from the runs (stages) the build committed:
 * its status, time, duration, stages and metrics.
 */
import type { JSONObject } from '../../pipelines/notebook/model';
import { isJSONObject } from '../../pipelines/reports/run-metadata';
import { stringField } from './run-record';
import type { BuildVersion } from './types';

/**
 * Newest first: build names compare as numbers where they are numbers (10 before 9), and a
 * reproduction (`7-repro-1`) comes right before the build it reproduces.
 */
export function compareBuildsDesc(a: string, b: string): number {
  return b.localeCompare(a, 'en', { numeric: true });
}

/** A run record read back from the store with the commit it belongs to. */
export interface StoredRun {
  commit: string;
  time: number;
  run: JSONObject;
}

/** Sums up one build's runs (newest first). */
export function summarizeBuild(
  build: string,
  tag: string,
  tagged: string | undefined,
  newestFirst: StoredRun[],
): BuildVersion {
  const oldestFirst = [...newestFirst].reverse();
  const notCompleted = newestFirst.find((r) => {
    const status = stringField(r.run, 'status');
    return status !== null && status !== 'completed';
  });
  const status =
    (notCompleted === undefined ? null : stringField(notCompleted.run, 'status')) ??
    stringField(newestFirst[0].run, 'status') ??
    'unknown';
  const durations = oldestFirst
    .map((r) => r.run.duration)
    .filter((d): d is number => typeof d === 'number' && Number.isFinite(d));
  const metrics: JSONObject = {};
  for (const r of oldestFirst) {
    const m = r.run.metrics;
    if (isJSONObject(m)) {
      Object.assign(metrics, m);
    }
  }
  const checked = newestFirst
    .map((r) => (isJSONObject(r.run.checks) ? r.run.checks.passed : undefined))
    .filter((p): p is boolean => typeof p === 'boolean');
  const first = oldestFirst[0];
  const start = stringField(first.run, 'start');
  return {
    build,
    commit: tagged ?? newestFirst[0].commit,
    tag,
    status,
    time:
      start !== null && !Number.isNaN(Date.parse(start))
        ? new Date(start).toISOString()
        : new Date(first.time * 1000).toISOString(),
    duration: durations.length === 0 ? null : durations.reduce((s, d) => s + d, 0),
    stages: oldestFirst
      .map((r) => stringField(r.run, 'stage'))
      .filter((s): s is string => s !== null),
    metrics,
    checksPassed: checked.length === 0 ? null : checked.every((p) => p),
    runIds: oldestFirst.map((r) => stringField(r.run, 'run_id') ?? ''),
    jenkinsUrl:
      newestFirst
        .map((r) => (isJSONObject(r.run.jenkins) ? stringField(r.run.jenkins, 'buildUrl') : null))
        .find((u): u is string => u !== null) ?? null,
    commits: newestFirst.map((r) => r.commit),
  };
}
