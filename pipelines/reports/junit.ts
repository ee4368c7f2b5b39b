/**
 * The JUnit XML report of an executed notebook: one test case per cell the run considered, in
 * the surefire format the Jenkins junit plugin reads. Failures carry the traceback without ANSI
 * escapes; metrics, kernel, run id and status are suite properties, a cell's peak memory
 * (`peak_rss_bytes`, and `peak_gpu_memory_bytes` on GPU workers) properties of its test case.
 */
import type { CellStatus } from '../executor/events';
import type { Cell, CodeCell, ErrorOutput, Notebook } from '../notebook/model';
import { firstSourceLine } from '../notebook/model';
import { applyCarriageReturns, stripAnsi } from './ansi';
import { formatDuration, formatValue, truncate } from './format';
import {
  cellCheck,
  cellPeakGpu,
  cellPeakRss,
  cellRunInfo,
  mimeText,
  multilineText,
  outputMetric,
  runChecks,
  runInfo,
} from './run-metadata';
import type { CellRunInfo, RecordedGate } from './run-metadata';

/** Options of {@link renderJUnit}. */
export interface JUnitOptions {
  /** The `name` of the test suite (e.g. the Jenkins job and stage). */
  suiteName: string;
  /** The notebook's name; the first part of every test case's class name. */
  notebookName: string;
}

/** Longest first source line kept in a test case name. */
const NAME_LINE_MAX = 60;

/** Characters XML 1.0 does not allow at all (lone surrogates included). */
const ILLEGAL_XML_RE =
  // eslint-disable-next-line no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Removes characters that XML 1.0 cannot carry. */
export function xmlSafe(text: string): string {
  return text.replace(ILLEGAL_XML_RE, '');
}

/** Escapes text for XML element content; ANSI escapes and illegal characters are dropped. */
function xmlText(text: string): string {
  return xmlSafe(stripAnsi(text))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Escapes text for a double-quoted XML attribute (whitespace kept as character references). */
function xmlAttr(text: string): string {
  return xmlText(text)
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

/** Renders `name="value"` pairs. */
function attrs(pairs: [string, string | number][]): string {
  return pairs.map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`).join('');
}

/** Seconds with millisecond precision, as JUnit wants them. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/**
 * A name part Jenkins will not split: Jenkins takes everything before the last dot of a class
 * name as its package, so dots (and a notebook file extension) must go.
 */
function classPart(name: string): string {
  const trimmed = name.replace(/\.(ipynb|zpln|json)$/i, '').trim();
  return (trimmed === '' ? 'notebook' : trimmed).replace(/\./g, '_');
}

/** ISO timestamp in the surefire form (`2024-05-01T12:00:00`, UTC, no zone). */
function surefireTimestamp(iso: string | null): string | null {
  if (iso === null) {
    return null;
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().slice(0, 19);
}

/** The cell's error output, if it has one. */
function errorOutput(cell: CodeCell): ErrorOutput | null {
  const found = cell.outputs.find((o): o is ErrorOutput => o.output_type === 'error');
  return found ?? null;
}

/** A traceback as plain text. */
function tracebackText(error: ErrorOutput): string {
  const text = error.traceback.length > 0 ? error.traceback.join('\n') : '';
  return text !== '' ? text : `${error.ename}: ${error.evalue}`;
}

/** stdout text and text/plain results of a cell, in output order; stderr apart. */
function cellStreams(cell: CodeCell): { out: string; err: string } {
  let out = '';
  let err = '';
  const addOut = (text: string): void => {
    out += out === '' || out.endsWith('\n') ? text : `\n${text}`;
  };
  for (const output of cell.outputs) {
    if (output.output_type === 'stream') {
      if (output.name === 'stderr') {
        err += multilineText(output.text);
      } else {
        out += multilineText(output.text);
      }
    } else if (output.output_type === 'execute_result' || output.output_type === 'display_data') {
      // A rich display's text/plain is only its repr (`<IPython.core.display.HTML object>`):
      // results and plain-text displays are kept, rich displays are not.
      const metric = outputMetric(output);
      const plain = mimeText(output.data['text/plain']);
      const plainOnly = Object.keys(output.data).every((mime) => mime === 'text/plain');
      if (metric !== null) {
        addOut(`metric ${metric.name} = ${formatValue(metric.value)}\n`);
      } else if (plain !== null && (output.output_type === 'execute_result' || plainOnly)) {
        addOut(`${plain}\n`);
      }
    }
  }
  // Strip first: a carriage return inside an escape sequence must not eat the line.
  return {
    out: applyCarriageReturns(stripAnsi(out)),
    err: applyCarriageReturns(stripAnsi(err)),
  };
}

/** What a non-passing test case says, by cell status. */
function outcomeElement(
  cell: CodeCell,
  index: number,
  info: CellRunInfo,
  exception: { cellIndex: number | null; ename: string; evalue: string } | null,
): string {
  const error = errorOutput(cell);
  const recorded = exception !== null && exception.cellIndex === index ? exception : null;
  const took = info.durationMs === null ? '' : ` after ${formatDuration(info.durationMs)}`;
  const body = error !== null ? xmlText(tracebackText(error)) : '';
  const element = (tag: 'failure' | 'error', message: string, type: string): string =>
    `<${tag}${attrs([
      ['message', message],
      ['type', type],
    ])}>${body}</${tag}>`;
  const status: CellStatus = info.status;
  switch (status) {
    case 'error': {
      const ename = error?.ename ?? recorded?.ename ?? 'Error';
      const evalue = error?.evalue ?? recorded?.evalue ?? '';
      return element('failure', evalue === '' ? ename : `${ename}: ${evalue}`, ename);
    }
    case 'timeout':
      return element('error', `cell timed out${took}`, 'Timeout');
    case 'kernel_died':
      return element('error', `the kernel died while the cell ran${took}`, 'KernelDied');
    case 'cancelled':
      return element('error', `the run was cancelled while the cell ran${took}`, 'Cancelled');
    case 'skipped':
      return `<skipped${attrs([['message', 'skip-execution']])}/>`;
    case 'aborted':
      return `<skipped${attrs([['message', 'not run: an earlier cell failed']])}/>`;
    case 'ok':
      return '';
  }
}

/**
 * The failure of a cell that ran but whose outputs differ from the baseline
 * (`metadata.nbstage.check`), its body the diff; null when the outputs were not found to differ.
 */
function outputMismatch(cell: Cell): string | null {
  const check = cellCheck(cell);
  if (check?.status !== 'differs') {
    return null;
  }
  return `<failure${attrs([
    ['message', `outputs differ from the baseline: ${check.message ?? 'outputs differ'}`],
    ['type', 'output-mismatch'],
  ])}>${xmlText(stripAnsi(check.diff ?? ''))}</failure>`;
}

/** The body of a gate's failure: the gate, the value, the baseline's value. */
function gateDetails(gate: RecordedGate): string {
  return [
    `gate: ${gate.gate}`,
    `value: ${formatValue(gate.value ?? null)}`,
    ...(gate.baseline === undefined ? [] : [`baseline: ${formatValue(gate.baseline ?? null)}`]),
    ...(gate.note === undefined ? [] : [`note: ${gate.note}`]),
  ].join('\n');
}

/**
 * A `<properties>` element, its lines indented by `indent` (its first line left to the caller).
 * The suite has one, and so does a cell's test case (the Jenkins junit plugin reads both).
 */
function propertiesElement(properties: [string, string][], indent: string): string {
  const items = properties.map(
    ([name, value]) =>
      `${indent}  <property${attrs([
        ['name', name],
        ['value', value],
      ])}/>`,
  );
  return ['<properties>', ...items, `${indent}</properties>`].join('\n');
}

/** The test case name of a cell: `cell 5: model.fit(x, y)`. */
function caseName(cell: Cell, index: number): string {
  const line = firstSourceLine(cell);
  return line === '' ? `cell ${index}` : `cell ${index}: ${truncate(line, NAME_LINE_MAX)}`;
}

/**
 * Renders the JUnit XML of an executed notebook: one `<testsuite>` inside `<testsuites>`, one
 * `<testcase>` per code cell that carries a run status (`metadata.nbstage.status`). Errors are
 * failures; timeouts, dead kernels and cancellations are errors; skipped and aborted cells are
 * skipped. No ANSI escapes and no character XML 1.0 forbids appear in the output.
 */
export function renderJUnit(nb: Notebook, options: JUnitOptions): string {
  const run = runInfo(nb);
  const notebookPart = classPart(options.notebookName);
  const cases: string[] = [];
  const counts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  let totalMs = 0;

  nb.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code') {
      return;
    }
    const info = cellRunInfo(cell);
    if (info === null) {
      return;
    }
    counts.tests += 1;
    const mismatch = info.status === 'ok' ? outputMismatch(cell) : null;
    if (info.status === 'error' || mismatch !== null) {
      counts.failures += 1;
    } else if (['timeout', 'kernel_died', 'cancelled'].includes(info.status)) {
      counts.errors += 1;
    } else if (info.status === 'skipped' || info.status === 'aborted') {
      counts.skipped += 1;
    }
    const ms = info.durationMs ?? 0;
    totalMs += ms;
    const { out, err } = cellStreams(cell);
    const peaks = (
      [
        ['peak_rss_bytes', cellPeakRss(cell)],
        ['peak_gpu_memory_bytes', cellPeakGpu(cell)],
      ] as const
    ).flatMap(([name, bytes]): [string, string][] =>
      bytes === null ? [] : [[name, String(bytes)]],
    );
    const parts = [
      peaks.length === 0 ? '' : propertiesElement(peaks, '      '),
      mismatch ?? outcomeElement(cell, index, info, run.exception),
      out === '' ? '' : `<system-out>${xmlText(out)}</system-out>`,
      err === '' ? '' : `<system-err>${xmlText(err)}</system-err>`,
    ].filter((p) => p !== '');
    const open = `<testcase${attrs([
      ['classname', `${notebookPart}.${classPart(info.stage ?? 'preamble')}`],
      ['name', caseName(cell, index)],
      ['time', seconds(ms)],
    ])}`;
    cases.push(
      parts.length === 0
        ? `    ${open}/>`
        : `    ${open}>\n${parts.map((p) => `      ${p}`).join('\n')}\n    </testcase>`,
    );
  });

  for (const gate of runChecks(nb)?.gates ?? []) {
    counts.tests += 1;
    const failure = gate.passed
      ? ''
      : `<failure${attrs([
          ['message', gate.message],
          ['type', 'gate'],
        ])}>${xmlText(gateDetails(gate))}</failure>`;
    const open = `<testcase${attrs([
      ['classname', `${notebookPart}.gates`],
      ['name', `gate: ${gate.gate}`],
      ['time', '0'],
    ])}`;
    if (!gate.passed) {
      counts.failures += 1;
    }
    cases.push(
      failure === '' ? `    ${open}/>` : `    ${open}>\n      ${failure}\n    </testcase>`,
    );
  }

  const properties: [string, string][] = [];
  if (run.kernel !== null) {
    properties.push(['kernel', run.kernel]);
  }
  if (run.runId !== null) {
    properties.push(['run_id', run.runId]);
  }
  if (run.status !== null) {
    properties.push(['status', run.status]);
  }
  if (run.job !== null) {
    properties.push(['job', run.job]);
  }
  if (run.build !== null) {
    properties.push(['build', run.build]);
  }
  for (const [name, value] of Object.entries(run.parameters)) {
    properties.push([`parameter.${name}`, formatValue(value)]);
  }
  for (const [name, value] of Object.entries(run.metrics)) {
    properties.push([`metric.${name}`, formatValue(value)]);
  }

  const suiteTime = seconds(run.duration !== null ? run.duration * 1000 : totalMs);
  const timestamp = surefireTimestamp(run.start);
  // <testsuites> and <testsuite> carry the same totals; the suite also its timestamp.
  const totals: [string, string | number][] = [
    ['name', options.suiteName],
    ['tests', counts.tests],
    ['failures', counts.failures],
    ['errors', counts.errors],
    ['skipped', counts.skipped],
    ['time', suiteTime],
  ];
  const suiteAttrs: [string, string | number][] =
    timestamp === null ? totals : [...totals, ['timestamp', timestamp]];
  const propertyLines =
    properties.length === 0 ? [] : [`    ${propertiesElement(properties, '    ')}`];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs(totals)}>`,
    `  <testsuite${attrs(suiteAttrs)}>`,
    ...propertyLines,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
