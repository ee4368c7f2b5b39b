/**
 * Typed, defensive reading of what the executor writes into an executed notebook: the run's
 * `metadata.nbstage`, each cell's `metadata.nbstage` (status, duration, stage, peak memory) and
 * the metric outputs of `nbstage.record`. The JUnit and HTML reports read the notebook only
 * through here.
 */
import { RUN_STATUSES, type CellStatus, type RunStatus } from '../executor/events';
import type {
  Cell,
  JSONObject,
  JSONValue,
  MultilineString,
  Notebook,
  Output,
} from '../notebook/model';

import { metricOf, type Metric } from '../notebook/metric';

/** Metrics as the reports read them (defined with the notebook model). */
export { METRIC_MIME, metricOf, type Metric } from '../notebook/metric';

const CELL_STATUSES: readonly CellStatus[] = [
  'ok',
  'error',
  'skipped',
  'aborted',
  'timeout',
  'cancelled',
  'kernel_died',
];

/** How one cell fared in the run (from `cell.metadata.nbstage`). */
export interface CellRunInfo {
  /** The cell's status. */
  status: CellStatus;
  /** Wall time in milliseconds, when recorded. */
  durationMs: number | null;
  /** The stage the cell belongs to; null in the preamble. */
  stage: string | null;
}

/** The failing cell recorded at notebook level. */
export interface RunException {
  cellIndex: number | null;
  ename: string;
  evalue: string;
}

/** The run as recorded in the notebook's `metadata.nbstage` (fields absent when not recorded). */
export interface RunInfo {
  runId: string | null;
  job: string | null;
  build: string | null;
  kernel: string | null;
  stages: string[];
  parameters: JSONObject;
  /** ISO timestamps. */
  start: string | null;
  end: string | null;
  /** Seconds. */
  duration: number | null;
  status: RunStatus | null;
  exception: RunException | null;
  environment: JSONObject | null;
  metrics: JSONObject;
}

/** A recorded metric: `nbstage.record(name, value)`. */
/** Whether a JSON value is a plain object. */
export function isJSONObject(value: JSONValue | undefined): value is JSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field, or null. */
function str(value: JSONValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

/** A finite number field, or null. */
function num(value: JSONValue | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The run status of the cell, or null when the run did not consider it. */
export function cellRunInfo(cell: Cell): CellRunInfo | null {
  const meta = cell.metadata.nbstage;
  if (!isJSONObject(meta)) {
    return null;
  }
  const status = meta.status;
  if (typeof status !== 'string' || !(CELL_STATUSES as readonly string[]).includes(status)) {
    return null;
  }
  return {
    status: status as CellStatus,
    durationMs: num(meta.duration_ms),
    stage: str(meta.stage),
  };
}

/**
 * The peak resident memory of the kernel's processes while the cell ran, in bytes
 * (`metadata.nbstage.peak_rss_bytes`); null when it was not measured.
 */
export function cellPeakRss(cell: Cell): number | null {
  return cellBytes(cell, 'peak_rss_bytes');
}

/**
 * The peak memory used on the run's GPUs while the cell ran, in bytes
 * (`metadata.nbstage.peak_gpu_memory_bytes`, on GPU workers); null when it was not measured.
 */
export function cellPeakGpu(cell: Cell): number | null {
  return cellBytes(cell, 'peak_gpu_memory_bytes');
}

function cellBytes(cell: Cell, field: string): number | null {
  const meta = cell.metadata.nbstage;
  if (!isJSONObject(meta)) {
    return null;
  }
  const bytes = num(meta[field]);
  return bytes !== null && bytes >= 0 ? bytes : null;
}

/** Reads the notebook-level run metadata. Missing fields come back as null or empty. */
export function runInfo(nb: Notebook): RunInfo {
  const meta: JSONObject = isJSONObject(nb.metadata.nbstage) ? nb.metadata.nbstage : {};
  const status = str(meta.status);
  const exc = meta.exception;
  const build = meta.build;
  return {
    runId: str(meta.run_id),
    job: str(meta.job),
    build: typeof build === 'number' ? String(build) : str(build),
    kernel: str(meta.kernel) ?? nb.metadata.kernelspec?.name ?? null,
    stages: Array.isArray(meta.stages)
      ? meta.stages.filter((s): s is string => typeof s === 'string')
      : [],
    parameters: isJSONObject(meta.parameters) ? meta.parameters : {},
    start: str(meta.start),
    end: str(meta.end),
    duration: num(meta.duration),
    status:
      status !== null && (RUN_STATUSES as readonly string[]).includes(status)
        ? (status as RunStatus)
        : null,
    exception: isJSONObject(exc)
      ? {
          cellIndex: num(exc.cell_index),
          ename: str(exc.ename) ?? '',
          evalue: str(exc.evalue) ?? '',
        }
      : null,
    environment: isJSONObject(meta.environment) ? meta.environment : null,
    metrics: isJSONObject(meta.metrics) ? meta.metrics : {},
  };
}

/** The text of a mime bundle entry stored as a string or a list of lines; null otherwise. */
export function mimeText(value: JSONValue | undefined): string | null {
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return (value as string[]).join('');
  }
  return null;
}

/** The text of a multi-line string field. */
export function multilineText(value: MultilineString): string {
  return Array.isArray(value) ? value.join('') : value;
}

/** The metric an output carries (display data of {@link METRIC_MIME}), or null. */
export function outputMetric(output: Output): Metric | null {
  if (output.output_type !== 'display_data' && output.output_type !== 'execute_result') {
    return null;
  }
  return metricOf(output.data);
}

/** A gate as `metadata.nbstage.checks.gates` records it. */
export interface RecordedGate {
  gate: string;
  passed: boolean;
  message: string;
  value: JSONValue;
  baseline?: JSONValue;
  note?: string;
}

/** The checks a run recorded (`metadata.nbstage.checks`), as the reports read them. */
export interface RecordedChecks {
  passed: boolean;
  /** What the baseline was (`stored`, `build 41 (last success)`), null without one. */
  baseline: string | null;
  /** Why there was none, when one was asked for. */
  note: string | null;
  cells: { same: number; differs: number; skipped: number };
  gates: RecordedGate[];
}

/** The checks of a run (`metadata.nbstage.checks`), or null when it had none. */
export function runChecks(nb: Notebook): RecordedChecks | null {
  const checks = nb.metadata.nbstage?.checks;
  if (!isJSONObject(checks)) {
    return null;
  }
  const cells = isJSONObject(checks.cells) ? checks.cells : {};
  const count = (v: JSONValue | undefined): number => (typeof v === 'number' ? v : 0);
  const gates = (Array.isArray(checks.gates) ? checks.gates : []).filter(
    (g): g is JSONObject =>
      isJSONObject(g) && typeof g.gate === 'string' && typeof g.passed === 'boolean',
  );
  return {
    passed: checks.passed === true,
    baseline: typeof checks.baseline === 'string' ? checks.baseline : null,
    note: typeof checks.note === 'string' ? checks.note : null,
    cells: {
      same: count(cells.same),
      differs: count(cells.differs),
      skipped: count(cells.skipped),
    },
    gates: gates.map((g) => ({
      gate: g.gate as string,
      passed: g.passed as boolean,
      message: typeof g.message === 'string' ? g.message : '',
      value: g.value ?? null,
      ...(g.baseline === undefined ? {} : { baseline: g.baseline }),
      ...(typeof g.note === 'string' ? { note: g.note } : {}),
    })),
  };
}

/** A code cell's check against the baseline (`metadata.nbstage.check`), as the reports read it. */
export interface RecordedCellCheck {
  status: 'same' | 'differs' | 'skipped';
  message: string | null;
  diff: string | null;
  reason: string | null;
}

/** The check of a cell, or null when it was not compared with a baseline. */
export function cellCheck(cell: Cell): RecordedCellCheck | null {
  const check = cell.metadata.nbstage?.check;
  if (!isJSONObject(check) || !['same', 'differs', 'skipped'].includes(String(check.status))) {
    return null;
  }
  const text = (v: JSONValue | undefined): string | null => (typeof v === 'string' ? v : null);
  return {
    status: check.status as RecordedCellCheck['status'],
    message: text(check.message),
    diff: text(check.diff),
    reason: text(check.reason),
  };
}
