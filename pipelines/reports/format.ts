/**
 * Small formatting helpers shared by the reports and the console sink: durations, byte sizes,
 * one-line truncation and metric values, so every place shows them the same way.
 */
import type { JSONValue } from '../notebook/model';

/** A duration for people: `0.42 s`, `12.3 s`, `4 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return '?';
  }
  if (ms < 10_000) {
    return `${(ms / 1000).toFixed(2)} s`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) {
    return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  }
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** A byte count for people: `512 B`, `12.3 kB`, `4.5 MB` (powers of 1000). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) {
    return `${bytes} B`;
  }
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `text` cut to at most `max` characters, ending with `…` when it was cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max
    ? text
    : `${chars
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`;
}

/** A metric or parameter value as one line: strings as they are, anything else as JSON. */
export function formatValue(value: JSONValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
