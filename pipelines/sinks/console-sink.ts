/**
 * The console a pipeline author watches (the Jenkins console log, or a terminal): a header line
 * when a cell starts, its outputs as they arrive (cell stdout to stdout, stderr and tracebacks to
 * stderr), a footer with its outcome, duration and peak memory (and, in a run with a baseline,
 * whether its outputs match it), and a one-line summary at the end. A run event listener; it
 * keeps no state beyond what it needs to lay lines out.
 */
import type {
  CellEndEvent,
  CellStartEvent,
  RunEndEvent,
  RunEvent,
  RunEventListener,
  RunStartEvent,
} from '../executor/events';
import { ErrorCode } from '../errors/catalogue';
import { formatLimit } from '../executor/output-limits';
import type { MimeBundle, Output } from '../notebook/model';
import { stripAnsi } from '../reports/ansi';
import { formatBytes, formatDuration, formatValue, truncate } from '../reports/format';
import { metricOf, mimeText } from '../reports/run-metadata';
import { RUN_STATUS_LABELS } from '../reports/status-labels';

/** Options of {@link createConsoleSink}. */
export interface ConsoleSinkOptions {
  /** Where cell stdout, results, headers and footers go. */
  stdout: NodeJS.WritableStream;
  /** Where cell stderr and tracebacks go (and the summary of a failed run). */
  stderr: NodeJS.WritableStream;
  /** Whether to write ANSI colours; when false not a single escape sequence is written. */
  color: boolean;
  /** Whether to write the run, cell header and cell footer lines (default true). */
  showHeaders?: boolean;
}

/** Longest first source line shown in a header. */
const HEADER_LINE_MAX = 60;

/** SGR codes used by the sink. */
const SGR = {
  header: '1;36',
  ok: '32',
  fail: '31',
  skip: '33',
  dim: '2',
  summaryOk: '1;32',
  summaryFail: '1;31',
} as const;

/** Mimetypes worth naming in a placeholder, most interesting first. */
const PLACEHOLDER_ORDER = ['image/png', 'image/jpeg', 'image/svg+xml', 'image/gif', 'text/html'];

/** Size in bytes of a mime bundle entry (decoded size for base64 binary data). */
function entrySize(mime: string, value: MimeBundle[string]): number {
  const text = mimeText(value);
  if (text === null) {
    return Buffer.byteLength(JSON.stringify(value), 'utf8');
  }
  const binary = mime.startsWith('image/') && mime !== 'image/svg+xml';
  if (binary) {
    const b64 = text.replace(/\s+/g, '');
    const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    return Math.max(0, Math.floor((b64.length * 3) / 4) - padding);
  }
  return Buffer.byteLength(text, 'utf8');
}

/** One line of text for a rich output: its metric, text/plain, or a placeholder. */
export function describeBundle(data: MimeBundle): string {
  const metric = metricOf(data);
  if (metric !== null) {
    return `metric ${metric.name} = ${formatValue(metric.value)}`;
  }
  const plain = mimeText(data['text/plain']);
  if (plain !== null) {
    return plain.replace(/\n$/, '');
  }
  const mimes = Object.keys(data);
  if (mimes.length === 0) {
    return '[empty output]';
  }
  const mime = PLACEHOLDER_ORDER.find((m) => mimes.includes(m)) ?? mimes[0];
  return `[${mime} ${formatBytes(entrySize(mime, data[mime]))}]`;
}

/** Writes to one stream and remembers whether its last line is unfinished. */
class LineTracker {
  open = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly color: boolean,
  ) {}

  write(text: string): void {
    const out = this.color ? text : stripAnsi(text);
    if (out === '') {
      return;
    }
    this.stream.write(out);
    this.open = !out.endsWith('\n');
  }

  /** Finishes an unfinished line. */
  breakLine(): void {
    if (this.open) {
      this.write('\n');
    }
  }
}

/**
 * Creates the console sink: a run event listener that streams a run to `stdout`/`stderr` as it
 * happens. Stream text that does not end a line is finished before the next header, footer or
 * summary, so those always start a line of their own.
 */
export function createConsoleSink(options: ConsoleSinkOptions): RunEventListener {
  const { color } = options;
  const showHeaders = options.showHeaders ?? true;
  const out = new LineTracker(options.stdout, color);
  const err = new LineTracker(options.stderr, color);
  const paint = (text: string, sgr: string): string =>
    color ? `\x1b[${sgr}m${text}\x1b[0m` : text;
  let lastHeaderIndex: number | null = null;
  const counts = { ran: 0, failed: 0, notRun: 0 };

  /** Writes a line of nbstage's own on stdout (or stderr), after finishing open lines. */
  const line = (text: string, target: LineTracker = out): void => {
    out.breakLine();
    err.breakLine();
    target.write(`${text}\n`);
  };

  const onRunStart = (event: RunStartEvent): void => {
    if (!showHeaders) {
      return;
    }
    const stages = event.stages.length > 0 ? ` · stages ${event.stages.join(', ')}` : '';
    const cells = `${event.cells.length} cell${event.cells.length === 1 ? '' : 's'}`;
    line(
      paint(`nbstage: run ${event.runId} on kernel ${event.kernel} · ${cells}${stages}`, SGR.dim),
    );
  };

  const onCellStart = (event: CellStartEvent): void => {
    lastHeaderIndex = event.index;
    if (!showHeaders) {
      return;
    }
    const parts = [`[${event.position + 1}/${event.total}]`, `cell ${event.index}`];
    if (event.stage !== null) {
      parts.push(`stage ${event.stage}`);
    }
    const first = stripAnsi(event.firstLine).trim();
    const header = `── ${parts[0]} ${parts.slice(1).join(' · ')}${
      first === '' ? '' : ` · ${truncate(first, HEADER_LINE_MAX)}`
    }`;
    line(paint(header, SGR.header));
  };

  const onOutput = (output: Output, update: boolean): void => {
    switch (output.output_type) {
      case 'stream': {
        const text = Array.isArray(output.text) ? output.text.join('') : output.text;
        (output.name === 'stderr' ? err : out).write(update ? `[update] ${text}` : text);
        return;
      }
      case 'error': {
        out.breakLine();
        err.breakLine();
        const traceback =
          output.traceback.length > 0
            ? output.traceback.join('\n')
            : `${output.ename}: ${output.evalue}`;
        err.write(`${traceback}\n`);
        return;
      }
      case 'display_data':
      case 'execute_result': {
        out.breakLine();
        err.breakLine();
        out.write(`${update ? '[update] ' : ''}${describeBundle(output.data)}\n`);
        return;
      }
    }
  };

  const onCellEnd = (event: CellEndEvent): void => {
    const failed = ['error', 'timeout', 'kernel_died', 'cancelled'].includes(event.status);
    if (event.status === 'skipped' || event.status === 'aborted') {
      counts.notRun += 1;
    } else {
      counts.ran += 1;
    }
    if (failed) {
      counts.failed += 1;
    }
    if (!showHeaders) {
      return;
    }
    const peak =
      event.peakRssBytes === undefined ? '' : `, peak ${formatLimit(event.peakRssBytes)}`;
    const took = `${formatDuration(event.durationMs)}${peak}`;
    const which = lastHeaderIndex === event.index ? '' : `cell ${event.index} `;
    let footer: string;
    switch (event.status) {
      case 'ok':
        footer = paint(`✓ ${which}${took}`, SGR.ok);
        break;
      case 'error': {
        const ename = event.error?.ename ?? 'error';
        footer = paint(`✗ ${which}error ${ename} (${took})`, SGR.fail);
        break;
      }
      case 'timeout':
        footer = paint(`✗ ${which}timed out after ${took}`, SGR.fail);
        break;
      case 'kernel_died':
        footer = paint(`✗ ${which}kernel died (${took})`, SGR.fail);
        break;
      case 'cancelled':
        footer = paint(`✗ ${which}cancelled (${took})`, SGR.fail);
        break;
      case 'skipped':
        footer = paint(`↷ ${which}skipped (skip-execution)`, SGR.skip);
        break;
      case 'aborted':
        footer = paint(`↷ ${which}not run (an earlier cell failed)`, SGR.skip);
        break;
    }
    line(`   ${footer}`);
    if (event.check !== undefined) {
      const { status, against, message } = event.check;
      line(
        status === 'same'
          ? `   ${paint(`= outputs match ${against}`, SGR.dim)}`
          : `   ${paint(`≠ outputs differ from ${against}: ${message ?? ''}`, SGR.fail)}`,
      );
    }
  };

  const onRunEnd = (event: RunEndEvent): void => {
    // Every cell ran but a check failed (exit 6): completed, and not a success.
    const checksFailed = event.error?.code === ErrorCode.checkFailed;
    const ok = event.status === 'completed' && !checksFailed;
    const cells = `${counts.ran} cell${counts.ran === 1 ? '' : 's'}, ${counts.failed} failed${
      counts.notRun > 0 ? `, ${counts.notRun} not run` : ''
    }`;
    const reason = checksFailed
      ? '; checks failed'
      : !ok && event.error !== undefined
        ? `: ${event.error.message}`
        : '';
    const summary = `nbstage: ${RUN_STATUS_LABELS[event.status]} in ${formatDuration(
      event.durationMs,
    )} — ${cells}${reason}`;
    line(paint(summary, ok ? SGR.summaryOk : SGR.summaryFail), ok ? out : err);
  };

  return (event: RunEvent): void => {
    switch (event.type) {
      case 'run-start':
        onRunStart(event);
        break;
      case 'cell-start':
        onCellStart(event);
        break;
      case 'output':
        onOutput(event.output, false);
        break;
      case 'output-update':
        onOutput(event.output, true);
        break;
      case 'output-clear':
        // Nothing was taken back from the console; saying "cleared" would only confuse.
        break;
      case 'cell-end':
        onCellEnd(event);
        break;
      case 'run-end':
        onRunEnd(event);
        break;
    }
  };
}
