/**
 * How much output a run keeps. A cell keeps at most `cellBytes` of output in the executed
 * notebook (and so in JUnit, the HTML report and the web page); past that the cell shows a
 * marker naming the limit, and its output goes on to the console only. The whole run streams and
 * keeps at most `runBytes`; past that nothing more is shown or kept but a marker. Cells that were
 * cut keep their whole output (masked) as a compressed file, an artifact of the run.
 *
 * The defaults are read from `NBSTAGE_MAX_CELL_OUTPUT` and `NBSTAGE_MAX_RUN_OUTPUT`, then the CLI
 * flags (`--max-cell-output`, `--max-run-output`) and request fields (`maxCellOutput`,
 * `maxRunOutput`) win. `0` means no limit.
 */
import { UsageError } from '../errors';

/** Output limits of one run, in bytes (UTF-8); 0 is no limit. */
export interface OutputLimits {
  /** Most output one cell keeps in the notebook. */
  cellBytes: number;
  /** Most output the whole run streams and keeps. */
  runBytes: number;
  /** Most bytes (compressed) the full-output files of a run may take. */
  fullOutputBytes: number;
}

const MIB = 1024 * 1024;

/**
 * The defaults. 4 MiB is about 40,000 lines of 100 characters, more than anyone reads in a
 * notebook and about what Jupyter front ends still render without stalling; 32 MiB per run leaves
 * room for eight such cells and keeps a Jenkins console a browser can still open.
 */
export const DEFAULT_OUTPUT_LIMITS: Readonly<OutputLimits> = {
  cellBytes: 4 * MIB,
  runBytes: 32 * MIB,
  fullOutputBytes: 64 * MIB,
};

/** Folder (inside the run's files, and the artifact name prefix) of the full-output files. */
export const FULL_OUTPUT_DIR = 'nbstage-output';

/** Artifact name of the full output of cell `index`. */
export function fullOutputName(index: number): string {
  return `${FULL_OUTPUT_DIR}/cell-${index}.txt.gz`;
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: MIB,
  mb: 1000 * 1000,
  mib: MIB,
  g: 1024 * MIB,
  gb: 1000 * 1000 * 1000,
  gib: 1024 * MIB,
};

/**
 * A size as people write it: `4194304`, `512k`, `4MiB`, `4 MB`, `1G` (k/M/G alone are binary).
 * Throws {@link UsageError} naming `what` for anything else.
 */
export function parseSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match === null ? undefined : UNITS[match[2].toLowerCase()];
  if (match === null || unit === undefined) {
    throw new UsageError(`${what}: "${text}" is not a size (bytes, or with k, M, G, MiB, MB...)`);
  }
  return Math.round(Number(match[1]) * unit);
}

/** The smallest kernel memory limit (`--memory`, request `memory`): below it no kernel starts. */
export const MIN_MEMORY_BYTES = 16 * MIB;

/** A byte count in the binary units the limits are given in: `4 MiB`, `512 KiB`, `100 B`. */
export function formatLimit(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 * MIB],
    ['MiB', MIB],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}

/**
 * The limits for a run: `overrides` (flags, request fields) over the environment over the
 * defaults. Throws {@link UsageError} for an environment value that is not a size.
 */
export function resolveOutputLimits(
  overrides: { cellBytes?: number; runBytes?: number } = {},
  env: NodeJS.ProcessEnv = process.env,
): OutputLimits {
  const fromEnv = (name: string, fallback: number): number => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? fallback : parseSize(value, name);
  };
  return {
    cellBytes:
      overrides.cellBytes ?? fromEnv('NBSTAGE_MAX_CELL_OUTPUT', DEFAULT_OUTPUT_LIMITS.cellBytes),
    runBytes:
      overrides.runBytes ?? fromEnv('NBSTAGE_MAX_RUN_OUTPUT', DEFAULT_OUTPUT_LIMITS.runBytes),
    fullOutputBytes: fromEnv('NBSTAGE_MAX_FULL_OUTPUT', DEFAULT_OUTPUT_LIMITS.fullOutputBytes),
  };
}

/** The marker a cell shows where its output was cut by the per-cell limit. */
export function cellLimitMarker(index: number, limits: OutputLimits, fullOutput: boolean): string {
  return (
    `[nbstage: output truncated: cell ${index} wrote more than ${formatLimit(limits.cellBytes)}, ` +
    'the per-cell output limit; the rest goes to the console only' +
    (fullOutput ? `; the whole output is kept as artifact ${fullOutputName(index)}` : '') +
    '. Raise the limit with --max-cell-output SIZE (request field maxCellOutput, ' +
    'or NBSTAGE_MAX_CELL_OUTPUT; 0 for none).]\n'
  );
}

/** The marker shown (console and notebook) where the run's output passed the per-run limit. */
export function runLimitMarker(index: number, limits: OutputLimits, fullOutput: boolean): string {
  return (
    `[nbstage: output truncated: the run wrote more than ${formatLimit(limits.runBytes)}, ` +
    `the per-run output limit, in cell ${index}; nothing more is shown or kept` +
    (fullOutput
      ? ` (the whole output of each cell is kept as artifact ${FULL_OUTPUT_DIR}/cell-N.txt.gz)`
      : '') +
    '. Raise the limit with --max-run-output SIZE (request field maxRunOutput, ' +
    'or NBSTAGE_MAX_RUN_OUTPUT; 0 for none).]\n'
  );
}

/** The marker of a cell whose output came after the run's limit was reached. */
export function afterRunLimitMarker(
  index: number,
  limits: OutputLimits,
  fullOutput: boolean,
): string {
  return (
    `[nbstage: output of cell ${index} not kept: the run already wrote more than ` +
    `${formatLimit(limits.runBytes)}, the per-run output limit` +
    (fullOutput ? `; the whole output is kept as artifact ${fullOutputName(index)}` : '') +
    '. Raise the limit with --max-run-output SIZE (request field maxRunOutput, ' +
    'or NBSTAGE_MAX_RUN_OUTPUT; 0 for none).]\n'
  );
}
