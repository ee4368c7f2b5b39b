/**
 * Metrics in notebooks: display data of the nbstage metric mime type, `{"name": ..., "value":
 * ...}`, as `nbstage.record()` writes it. The executor collects them and the reports show them;
 * both read them here.
 */
import type { JSONValue, MimeBundle } from './model';

/** The mime type of a metric output. */
export const METRIC_MIME = 'application/vnd.nbstage.metric+json';

/** A named value a notebook recorded. */
export interface Metric {
  name: string;
  value: JSONValue;
}

/** The metric carried by a mime bundle, or null when it carries none (or one without a name). */
export function metricOf(data: MimeBundle): Metric | null {
  const metric = data[METRIC_MIME];
  if (metric === null || typeof metric !== 'object' || Array.isArray(metric)) {
    return null;
  }
  const { name } = metric;
  return typeof name === 'string' && name !== '' ? { name, value: metric.value ?? null } : null;
}
