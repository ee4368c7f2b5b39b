/**
 * Metric gates: conditions on the metrics a run recorded, against a number or against the
 * baseline's value of the same metric (`accuracy >= 0.9`, `val.loss <= baseline * 1.05`).
 * Parsing refuses malformed gates up front; evaluating never throws.
 */
import { ValidationError } from '../errors/classes';
import type { JSONValue } from '../notebook/model';

/** A comparison operator of a gate. */
export type GateOperator = '>=' | '>' | '<=' | '<' | '==' | '!=';

/** What a gate compares the metric with. */
export type GateTarget =
  | { kind: 'number'; value: number }
  | { kind: 'baseline'; adjust?: { op: '+' | '-' | '*' | '/'; value: number } };

/** A parsed gate. */
export interface Gate {
  /** The gate as written (trimmed). */
  text: string;
  /** The metric's name, e.g. `accuracy`, `val.loss`. */
  metric: string;
  op: GateOperator;
  target: GateTarget;
}

/** The outcome of one gate. */
export interface GateResult {
  /** The gate as written. */
  gate: string;
  passed: boolean;
  /** The run's value of the metric; null when it was not recorded or is not a number. */
  value: number | null;
  /** The baseline's value, for a gate that names the baseline (null when there is none). */
  baseline?: number | null;
  /** What the value was compared with, when it could be computed. */
  threshold?: number;
  /** One line saying what was compared and how it came out. */
  message: string;
  /** Why a gate passed without being checked (no baseline value). */
  note?: string;
}

const OPERATORS: readonly GateOperator[] = ['>=', '<=', '==', '!=', '>', '<'];
const NAME = /^[A-Za-z_][\w.-]*$/;
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
// An operator, longest spellings first so `>=` is not read as `>` then `=`.
const OPERATOR = /(>=|<=|==|!=|=>|=<|>|<|=)/;

/** A number of a gate, or a ValidationError saying which gate and what is wrong. */
function parseNumber(text: string, gate: string, field: string, what: string): number {
  if (!NUMBER.test(text)) {
    throw new ValidationError(
      field,
      `gate ${JSON.stringify(gate)}: ${what} must be a number, not ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/**
 * Parses a gate: `metric OP number`, `metric OP baseline`, `metric OP baseline + number` (or
 * `-`, `*`, `/`), with OP one of `>= > <= < == !=`. Metric names start with a letter or `_` and
 * go on with letters, digits, `_`, `.` and `-` (`accuracy`, `val.loss`, `f1_macro`); numbers may
 * have a sign, decimals and an exponent (`1e-3`). Spaces around the parts are optional.
 * Throws ValidationError(`field`, ...) naming the gate and what is wrong with it.
 */
export function parseGate(text: string, field: string): Gate {
  const gate = text.trim();
  const fail = (what: string): never => {
    throw new ValidationError(field, `gate ${JSON.stringify(gate)}: ${what}`);
  };
  if (gate === '') {
    fail('is empty; expected e.g. "accuracy >= 0.9" or "loss <= baseline * 1.05"');
  }
  const m = OPERATOR.exec(gate);
  if (m === null) {
    return fail('has no comparison; expected one of >= > <= < == !=');
  }
  const written = m[1];
  if (!(OPERATORS as readonly string[]).includes(written)) {
    const meant = written === '=' ? '==' : written === '=>' ? '>=' : '<=';
    return fail(
      `${JSON.stringify(written)} is not an operator; did you mean ${JSON.stringify(meant)}?`,
    );
  }
  const op = written as GateOperator;
  const metric = gate.slice(0, m.index).trim();
  const right = gate.slice(m.index + written.length).trim();
  if (metric === '') {
    fail(`names no metric before ${op}`);
  }
  if (!NAME.test(metric)) {
    fail(
      `${JSON.stringify(metric)} is not a metric name (letters, digits, _ . -, not starting with a digit)`,
    );
  }
  if (right === '') {
    fail(`has nothing after ${op}; expected a number or "baseline"`);
  }
  if (/[<>=!]/.test(right)) {
    fail('has more than one comparison');
  }
  const base = /^baseline\b(.*)$/.exec(right);
  if (base === null) {
    const value = parseNumber(right, gate, field, `the right side of ${op}`);
    return { text: gate, metric, op, target: { kind: 'number', value } };
  }
  const rest = base[1].trim();
  if (rest === '') {
    return { text: gate, metric, op, target: { kind: 'baseline' } };
  }
  const arithmetic = /^([-+*/])(.*)$/.exec(rest);
  if (arithmetic === null) {
    return fail(
      `unexpected ${JSON.stringify(rest)} after "baseline"; expected + - * / and a number`,
    );
  }
  const [, adjustOp, adjustText] = arithmetic;
  const value = parseNumber(adjustText.trim(), gate, field, `what follows "baseline ${adjustOp}"`);
  if (adjustOp === '/' && value === 0) {
    fail('divides the baseline by 0');
  }
  const adjust = { op: adjustOp as '+' | '-' | '*' | '/', value };
  return { text: gate, metric, op, target: { kind: 'baseline', adjust } };
}

/** Whether `value OP threshold` holds. */
function holds(value: number, op: GateOperator, threshold: number): boolean {
  switch (op) {
    case '>=':
      return value >= threshold;
    case '>':
      return value > threshold;
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

/** The threshold a baseline value gives. */
function adjusted(
  baseline: number,
  adjust: { op: '+' | '-' | '*' | '/'; value: number } | undefined,
): number {
  switch (adjust?.op) {
    case undefined:
      return baseline;
    case '+':
      return baseline + adjust.value;
    case '-':
      return baseline - adjust.value;
    case '*':
      return baseline * adjust.value;
    case '/':
      return baseline / adjust.value;
  }
}

/** A metric's numeric value, or null when it is absent or not a number. */
function numeric(metrics: Record<string, JSONValue> | null, name: string): number | null {
  const v = metrics !== null && Object.hasOwn(metrics, name) ? metrics[name] : undefined;
  return typeof v === 'number' ? v : null;
}

/** One gate against the run's and the baseline's metrics. */
function evaluate(
  gate: Gate,
  metrics: Record<string, JSONValue>,
  baselineMetrics: Record<string, JSONValue> | null,
): GateResult {
  const value = numeric(metrics, gate.metric);
  const result: GateResult = { gate: gate.text, passed: false, value, message: '' };
  let threshold: number;
  let against = '';
  if (gate.target.kind === 'baseline') {
    const baseline = numeric(baselineMetrics, gate.metric);
    result.baseline = baseline;
    if (baseline === null) {
      const why =
        baselineMetrics === null
          ? 'there is no baseline'
          : Object.hasOwn(baselineMetrics, gate.metric)
            ? `the baseline's ${gate.metric} is not a number`
            : `the baseline recorded no ${gate.metric}`;
      result.passed = true;
      result.note = `${why}, so the gate was not checked`;
      result.message = `${gate.text}: not checked (${why})`;
      return result;
    }
    threshold = adjusted(baseline, gate.target.adjust);
    const adjust = gate.target.adjust;
    against =
      adjust === undefined
        ? ` (baseline ${baseline})`
        : ` (baseline ${baseline} ${adjust.op} ${adjust.value})`;
  } else {
    threshold = gate.target.value;
  }
  result.threshold = threshold;
  if (value === null) {
    const recorded = Object.hasOwn(metrics, gate.metric);
    result.message = recorded
      ? `${gate.text}: ${gate.metric} is ${JSON.stringify(metrics[gate.metric])}, not a number`
      : `${gate.text}: this run recorded no metric ${gate.metric}`;
    return result;
  }
  result.passed = holds(value, gate.op, threshold);
  result.message = result.passed
    ? `${gate.metric} = ${value} ${gate.op} ${threshold}${against}`
    : `${gate.metric} = ${value}, needs ${gate.op} ${threshold}${against}`;
  return result;
}

/**
 * Evaluates gates against a run's metrics (name -> value) and the baseline's, one result per
 * gate in order. A metric the run did not record, or that is not a number, fails the gate. A
 * gate naming `baseline` when there is no baseline (`baselineMetrics` null) or the baseline has
 * no numeric value for the metric passes, with a `note` saying it was not checked.
 */
export function evaluateGates(
  gates: readonly Gate[],
  metrics: Record<string, JSONValue>,
  baselineMetrics: Record<string, JSONValue> | null,
): GateResult[] {
  return gates.map((g) => evaluate(g, metrics, baselineMetrics));
}
