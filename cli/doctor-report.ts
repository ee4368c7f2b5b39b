/**
 * The report of `nbstage doctor`: what it found, as rows with a status and a fix, and how the
 * report reads as a table.
 */
import type { PythonSource } from '../kernels/python-env';

/** `ok`: present; `missing`: required and absent or broken; `optional`: absent, not required. */
export type DoctorStatus = 'ok' | 'missing' | 'optional';

/** One row of the report. */
export interface DoctorCheck {
  /** What was checked: `node`, `python`, `jupyter_server`, `kernelspecs`, `gpu`, ... */
  name: string;
  status: DoctorStatus;
  /** What was found: a version, a path, `none`, or why it is missing. */
  value: string;
  /** How to fix it; set when the status is not `ok`. */
  fix?: string;
}

/** A kernelspec the Python environment offers. */
export interface DoctorKernelspec {
  name: string;
  language: string;
  displayName: string;
  resourceDir: string;
}

/** A GPU as `nvidia-smi` reports it. */
export interface DoctorGpu {
  name: string;
  driver: string;
  memory: string;
}

/** Everything `nbstage doctor` found; `--json` prints it as is. */
export interface DoctorReport {
  /** True when no required check is missing. */
  ok: boolean;
  checks: DoctorCheck[];
  python: { path: string; source: PythonSource; version: string | null };
  kernelspecs: DoctorKernelspec[];
  gpus: DoctorGpu[];
}

/** The human-readable table: ✓ present, ✗ missing, – optional and absent; a fix under each. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((check) => check.name.length)) + 2;
  const mark: Record<DoctorStatus, string> = { ok: '✓', missing: '✗', optional: '–' };
  const lines = ['nbstage doctor'];
  for (const check of report.checks) {
    lines.push(`  ${mark[check.status]} ${check.name.padEnd(width)}${check.value}`);
    if (check.status !== 'ok' && check.fix !== undefined) {
      lines.push(`  ${' '.repeat(width + 2)}fix: ${check.fix}`);
    }
  }
  const missing = report.checks.filter((check) => check.status === 'missing').length;
  lines.push(
    missing === 0
      ? 'Everything nbstage needs is here.'
      : `${missing} required ${missing === 1 ? 'item is' : 'items are'} missing: see the fixes above.`,
  );
  return `${lines.join('\n')}\n`;
}
