/**
 * The verdict of a run's checks: its cells' outputs against a baseline notebook
 * (`compareNotebooks`) and its metrics against its gates (`evaluateGates`), recorded where every
 * report reads them: `metadata.nbstage.check` in each compared cell, `metadata.nbstage.checks`
 * in the notebook. The executor asks for it once every cell has run; a failure there makes a run
 * that completed end with exit 6 (`CheckFailedError`).
 */
import type { JSONObject, JSONValue, Notebook } from '../notebook/model';
import type { CellCheckNote, RunChecks } from '../executor/events';
import type { CellCheck, CompareOptions } from './compare';
import { evaluateGates, type Gate, type GateResult } from './gates';

/** The relative tolerance of numbers in outputs unless `--rtol` or a cell says otherwise. */
export const DEFAULT_RTOL = 1e-6;

/** What a run is checked against, resolved before it starts. */
export interface CheckPlan {
  /** The baseline notebook (executed), or null when none was found or asked for. */
  readonly baseline: Notebook | null;
  /** What the baseline is, in words: `stored`, `build 41`, a file name. */
  readonly baselineLabel: string | null;
  /** Why there is no baseline, when one was asked for but there is none (`last-success` of a new job). */
  readonly noBaseline?: string;
  /** `--rtol`. */
  readonly rtol: number;
  /** `--gate` and the notebook's `metadata.nbstage.gates`, parsed. */
  readonly gates: readonly Gate[];
  /** The baseline's metrics (its `metadata.nbstage.metrics`), for gates that name `baseline`. */
  readonly baselineMetrics: Record<string, JSONValue> | null;
  /**
   * `cellComparer`, loaded with the plan when there is a baseline (its image decoders and diff
   * are loaded only by runs that compare outputs).
   */
  readonly comparer:
    | ((
        actual: Notebook,
        baseline: Notebook,
        options: CompareOptions,
      ) => (index: number) => CellCheck)
    | null;
}

/** What the checks found. */
export interface CheckVerdict {
  /** `metadata.nbstage.checks` of the notebook, also kept in run.json. */
  readonly record: JSONObject;
  /** One line per failed check, in notebook order, gates last. */
  readonly failures: string[];
  /** The first cell whose outputs differ, when one does. */
  readonly cell?: number;
}

/** The metrics a notebook recorded (`metadata.nbstage.metrics`), or null when it has none. */
export function notebookMetrics(nb: Notebook): Record<string, JSONValue> | null {
  const metrics = nb.metadata.nbstage?.metrics;
  return metrics !== null && typeof metrics === 'object' && !Array.isArray(metrics)
    ? (metrics as Record<string, JSONValue>)
    : null;
}

/** The cell part of a check, as `metadata.nbstage.check` keeps it. */
function cellRecord(check: CellCheck): JSONObject {
  return {
    status: check.status,
    ...(check.baselineIndex === undefined ? {} : { baseline_cell: check.baselineIndex }),
    ...(check.reason === undefined ? {} : { reason: check.reason }),
    ...(check.message === undefined ? {} : { message: check.message }),
    ...(check.diff === undefined ? {} : { diff: check.diff }),
  };
}

function gateRecord(result: GateResult): JSONObject {
  return {
    gate: result.gate,
    passed: result.passed,
    value: result.value,
    ...(result.baseline === undefined ? {} : { baseline: result.baseline }),
    ...(result.threshold === undefined ? {} : { threshold: result.threshold }),
    message: result.message,
    ...(result.note === undefined ? {} : { note: result.note }),
  };
}

/** What a cell was compared with, as a noun phrase: `build 41 (last success)`. */
function againstWords(label: string | null): string {
  if (label === null) {
    return 'the baseline';
  }
  return label === 'stored' ? 'the outputs stored in the notebook' : label;
}

/**
 * The executor's view of `plan` ({@link RunChecks}): each cell compared as it ends, for the line
 * the console prints after it, and the whole run checked at its end, where every cell is compared
 * again as it finally stands (a later `update_display_data` can change an earlier cell's output).
 */
export function runChecks(plan: CheckPlan): RunChecks {
  let made: { nb: Notebook; compare: ((index: number) => CellCheck) | null } | null = null;
  const comparerFor = (nb: Notebook): ((index: number) => CellCheck) | null => {
    if (made === null || made.nb !== nb) {
      const compare =
        plan.baseline === null || plan.comparer === null
          ? null
          : plan.comparer(nb, plan.baseline, { rtol: plan.rtol });
      made = { nb, compare };
    }
    return made.compare;
  };
  return {
    cell(nb, index): CellCheckNote | null {
      try {
        const check = comparerFor(nb)?.(index);
        if (check === undefined || check.status === 'skipped') {
          return null;
        }
        return {
          status: check.status,
          against: againstWords(plan.baselineLabel),
          ...(check.message === undefined ? {} : { message: check.message }),
        };
      } catch {
        // The run's end reports what stops a comparison; a cell's line is not the place.
        return null;
      }
    },
    run(nb, metrics): CheckVerdict {
      let compared: CellCheck[] = [];
      let broken: string | null = null;
      try {
        const compare = comparerFor(nb);
        if (compare !== null) {
          compared = nb.cells.flatMap((c, i) => (c.cell_type === 'code' ? [compare(i)] : []));
        }
      } catch (err) {
        // The run is over: what stops the comparison fails the checks, it does not lose the run.
        broken = `the outputs could not be compared: ${(err as Error).message}`;
      }
      return verdict(nb, metrics, plan, compared, broken);
    },
  };
}

/**
 * Checks the executed notebook `nb` (its cells' `metadata.nbstage.check` are set here) with the
 * run's `metrics`.
 */
export function checkRun(
  nb: Notebook,
  metrics: Record<string, JSONValue>,
  plan: CheckPlan,
): CheckVerdict {
  return runChecks(plan).run(nb, metrics);
}

function verdict(
  nb: Notebook,
  metrics: Record<string, JSONValue>,
  plan: CheckPlan,
  compared: readonly CellCheck[],
  broken: string | null,
): CheckVerdict {
  const failures: string[] = broken === null ? [] : [broken];
  const counts = { same: 0, differs: 0, skipped: 0 };
  for (const check of compared) {
    counts[check.status] += 1;
    const cell = nb.cells[check.index];
    const meta = (cell.metadata.nbstage ?? {}) as JSONObject;
    meta.check = cellRecord(check);
    cell.metadata.nbstage = meta;
    if (check.status === 'differs') {
      failures.push(`cell ${check.index}: ${check.message ?? 'outputs differ from the baseline'}`);
    }
  }
  const gates = evaluateGates(plan.gates, metrics, plan.baselineMetrics);
  for (const gate of gates) {
    if (!gate.passed) {
      failures.push(`gate ${gate.gate}: ${gate.message}`);
    }
  }
  const record: JSONObject = {
    passed: failures.length === 0,
    baseline: plan.baselineLabel,
    ...(plan.noBaseline === undefined ? {} : { note: plan.noBaseline }),
    rtol: plan.rtol,
    cells: counts,
    gates: gates.map(gateRecord),
    failures,
  };
  const differs = compared.find((check) => check.status === 'differs');
  return { record, failures, ...(differs === undefined ? {} : { cell: differs.index }) };
}
