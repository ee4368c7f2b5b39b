/**
 * Builders of executed notebooks for the report and console tests: cells carrying the run
 * metadata the executor writes (`metadata.nbstage`), and a real ipykernel-style traceback.
 */
import type { CellStatus, RunStatus } from '../../../pipelines/executor/events';
import type {
  CodeCell,
  JSONObject,
  MarkdownCell,
  Notebook,
  Output,
} from '../../../pipelines/notebook/model';

/** A traceback as ipykernel 7 colours it (copied from a real run). */
export const ZERO_DIVISION_TRACEBACK = [
  '\u001b[31m---------------------------------------------------------------------------\u001b[39m',
  '\u001b[31mZeroDivisionError\u001b[39m                         Traceback (most recent call last)',
  '\u001b[36mCell\u001b[39m\u001b[36m \u001b[39m\u001b[32mIn[5]\u001b[39m\u001b[32m, line 4\u001b[39m\n\u001b[32m      1\u001b[39m \u001b[38;5;28;01mdef\u001b[39;00m evaluate(x):\n\u001b[32m----> \u001b[39m\u001b[32m4\u001b[39m evaluate(\u001b[32m0\u001b[39m)\n',
  '\u001b[31mZeroDivisionError\u001b[39m: division by zero',
];

/** A 1x1 transparent PNG, base64. */
export const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** A code cell as the executor leaves it. */
export function codeCell(
  source: string,
  run: { status?: CellStatus; durationMs?: number; stage?: string | null } = {},
  outputs: Output[] = [],
  executionCount: number | null = null,
): CodeCell {
  const nbstage: JSONObject = {};
  if (run.status !== undefined) {
    nbstage.status = run.status;
    nbstage.duration_ms = run.durationMs ?? 0;
    nbstage.stage = run.stage ?? null;
  }
  return {
    cell_type: 'code',
    id: Math.random().toString(16).slice(2, 10),
    source,
    metadata: run.status === undefined ? {} : { nbstage },
    execution_count: executionCount,
    outputs,
  };
}

/** A markdown cell. */
export function markdownCell(source: string, attachments?: JSONObject): MarkdownCell {
  return {
    cell_type: 'markdown',
    id: Math.random().toString(16).slice(2, 10),
    source,
    metadata: {},
    ...(attachments === undefined ? {} : { attachments }),
  };
}

/** A stream output. */
export function stream(name: 'stdout' | 'stderr', text: string): Output {
  return { output_type: 'stream', name, text };
}

/** A display_data output. */
export function display(data: JSONObject, metadata: JSONObject = {}): Output {
  return { output_type: 'display_data', data, metadata };
}

/** An execute_result output. */
export function result(data: JSONObject, count: number): Output {
  return { output_type: 'execute_result', execution_count: count, data, metadata: {} };
}

/** An error output. */
export function error(ename: string, evalue: string, traceback: string[]): Output {
  return { output_type: 'error', ename, evalue, traceback };
}

/** A notebook with run metadata. */
export function executedNotebook(
  cells: Notebook['cells'],
  run: { status?: RunStatus; [key: string]: unknown } = {},
): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      nbstage: {
        run_id: 'run-123',
        kernel: 'python3',
        stages: [],
        parameters: {},
        start: '2025-05-01T12:00:00.000Z',
        end: '2025-05-01T12:00:03.210Z',
        duration: 3.21,
        status: 'completed',
        ...(run as JSONObject),
      },
    },
    cells,
  };
}
