/**
 * Comparing an executed notebook with a baseline cell by cell, as nbval does, with noise
 * normalized and numbers and images compared with tolerance. Which cells are compared is
 * decided here; how outputs are cut into comparable entries is `outputs.ts`'s, how cells are
 * paired `match.ts`'s.
 */
import { createTwoFilesPatch } from 'diff';
import { ValidationError } from '../errors/classes';
import { hasTag, type Cell, type CodeCell, type JSONValue, type Notebook } from '../notebook/model';
import { compareImages, describeImage, type ImageTolerance } from './images';
import { IGNORE_OUTPUT_TAG, nbvalMarkers } from './markers';
import { matchCells } from './match';
import { compareNumericText, type Tolerance } from './numbers';
import { outputEntries, type OutputEntry } from './outputs';

/** How to compare a notebook with its baseline. */
export interface CompareOptions {
  /** Relative tolerance for numbers in outputs; a cell's `metadata.nbstage.rtol` overrides it. */
  rtol: number;
  /** Absolute floor for numbers (default 0); a cell's `metadata.nbstage.atol` overrides it. */
  atol?: number;
  /**
   * `strict` (default, nbval's `--nbval`): every cell is compared unless marked otherwise.
   * `lax` (nbval's `--nbval-lax`): only cells marked NBVAL_CHECK_OUTPUT are compared.
   */
  mode?: 'strict' | 'lax';
  /** Fraction of pixels an image may have different (default 0) and pixelmatch's threshold. */
  images?: ImageTolerance;
}

/** The outcome of comparing one code cell with its baseline. */
export interface CellCheck {
  /** Index of the cell in `actual` (all cells, not only code cells). */
  index: number;
  cellId?: string;
  /** Index of the matching cell in the baseline (all cells), when there is one. */
  baselineIndex?: number;
  status: 'same' | 'differs' | 'skipped';
  /** For skipped: why, in words. */
  reason?: string;
  /** For differs: one line, e.g. `output 1 (text/plain): 0.91 became 0.87 (rtol 1e-06)`. */
  message?: string;
  /** For differs: a unified diff of the normalized outputs, baseline against actual. */
  diff?: string;
}

/** A tolerance as Python prints it (`1e-06`), so messages read like the option was written. */
function formatTolerance(n: number): string {
  if (n !== 0 && Math.abs(n) < 1e-4) {
    return n.toExponential().replace(/e([-+])(\d)$/, 'e$10$2');
  }
  return String(n);
}

/** A tolerance from options or cell metadata, refused unless a finite number >= 0. */
function toleranceValue(value: JSONValue | undefined, field: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ValidationError(
      field,
      `${field} must be a number >= 0, not ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The tolerance for one cell: its own metadata first (the run's, then the baseline's). */
function cellTolerance(
  cell: CodeCell,
  index: number,
  baseline: CodeCell,
  defaults: Tolerance,
): Tolerance {
  const own = (c: CodeCell, key: 'rtol' | 'atol'): JSONValue | undefined => {
    const nbstage = c.metadata.nbstage;
    return nbstage !== undefined && typeof nbstage === 'object' ? nbstage[key] : undefined;
  };
  const field = (key: string): string => `cells[${index}].metadata.nbstage.${key}`;
  return {
    rtol:
      toleranceValue(own(cell, 'rtol') ?? own(baseline, 'rtol'), field('rtol')) ?? defaults.rtol,
    atol:
      toleranceValue(own(cell, 'atol') ?? own(baseline, 'atol'), field('atol')) ??
      defaults.atol ??
      0,
  };
}

/** `output 2 (stdout)`: outputs are numbered from 1 as the cell lists them. */
function label(entry: OutputEntry, side: '' | 'baseline '): string {
  return `${side}output ${entry.outputIndex + 1} (${entry.key})`;
}

/** A found difference: its message, and a note to show with the actual entry in the diff. */
interface Difference {
  message: string;
  entry?: OutputEntry;
  note?: string;
}

/** The first difference between two entries of the same key, or null. */
function compareEntries(
  b: OutputEntry,
  a: OutputEntry,
  tolerance: Tolerance,
  images: ImageTolerance,
): Difference | null {
  const where = label(a, '');
  if (a.kind === 'pixels' && b.kind === 'pixels') {
    const d = compareImages(a.key, b.text, a.text, images);
    return d === null ? null : { message: `${where}: ${d.message}`, entry: a, note: d.message };
  }
  if (a.kind === 'error' && b.kind === 'error' && a.ename !== b.ename) {
    return { message: `${where}: ${b.ename} became ${a.ename}` };
  }
  const d = compareNumericText(b.text, a.text, tolerance);
  if (d === null) {
    return null;
  }
  const line = a.text.includes('\n') ? `, line ${d.line}` : '';
  if (d.kind === 'number') {
    const tol =
      (tolerance.atol ?? 0) > 0
        ? `rtol ${formatTolerance(tolerance.rtol)}, atol ${formatTolerance(tolerance.atol ?? 0)}`
        : `rtol ${formatTolerance(tolerance.rtol)}`;
    return { message: `${where}${line}: ${d.baseline} became ${d.actual} (${tol})` };
  }
  // An empty excerpt is the end of the text: the other side goes on.
  if (d.baseline === '') {
    return { message: `${where}${line}: ${JSON.stringify(d.actual)} added at the end` };
  }
  if (d.actual === '') {
    return { message: `${where}${line}: ${JSON.stringify(d.baseline)} missing at the end` };
  }
  return {
    message: `${where}${line}: ${JSON.stringify(d.baseline)} became ${JSON.stringify(d.actual)}`,
  };
}

/** Entries grouped by key, keys in order of first appearance. */
function byKey(entries: OutputEntry[]): Map<string, OutputEntry[]> {
  const groups = new Map<string, OutputEntry[]>();
  for (const e of entries) {
    groups.set(e.key, [...(groups.get(e.key) ?? []), e]);
  }
  return groups;
}

/**
 * The first difference between two cells' entries, nbval's way: entries are compared key by
 * key (the order of entries of different keys does not matter, the order within a key does);
 * a key on one side only (checked first), or a different number of entries under a key, is a
 * difference.
 */
function firstDifference(
  baseline: OutputEntry[],
  actual: OutputEntry[],
  tolerance: Tolerance,
  images: ImageTolerance,
): Difference | null {
  const b = byKey(baseline);
  const a = byKey(actual);
  // Keys first, as nbval does: a missing or new kind of output says more than its content.
  for (const [key, bs] of b) {
    if (!a.has(key)) {
      return { message: `${label(bs[0], 'baseline ')} is missing from this run` };
    }
  }
  for (const [key, as] of a) {
    if (!b.has(key)) {
      return { message: `${label(as[0], '')} is new: the baseline cell has no ${key} output` };
    }
  }
  for (const [key, bs] of b) {
    const as = a.get(key) ?? [];
    if (as.length !== bs.length) {
      return {
        message: `the baseline has ${bs.length} ${key} output(s), this run ${as.length}`,
      };
    }
    for (let i = 0; i < bs.length; i += 1) {
      const d = compareEntries(bs[i], as[i], tolerance, images);
      if (d !== null) {
        return d;
      }
    }
  }
  return null;
}

/** The entries as text for a diff, one section per entry; pixels as their size. */
function render(entries: OutputEntry[], difference?: Difference): string {
  return entries
    .map((e) => {
      const body =
        e.kind === 'pixels'
          ? describeImage(e.key, e.text)
          : e.kind === 'error'
            ? `${e.ename}: ${e.text}`
            : e.text;
      const note =
        difference?.entry === e && difference.note !== undefined ? ` ${difference.note}` : '';
      return `[${e.key}]${note}\n${body}\n`;
    })
    .join('');
}

/** A unified diff of two cells' normalized outputs, without the patch's `===` banner. */
function unifiedDiff(
  baseline: string,
  actual: string,
  index: number,
  baselineIndex: number,
): string {
  const patch = createTwoFilesPatch(
    `baseline cell ${baselineIndex}`,
    `actual cell ${index}`,
    baseline,
    actual,
    undefined,
    undefined,
    { context: 3 },
  );
  return patch.replace(/^=+\n/, '');
}

/** Why a cell is not compared, or null when it is. */
function skipReason(cell: CodeCell, lax: boolean): string | null {
  const markers = nbvalMarkers(cell);
  if (markers.skip) {
    return 'marked NBVAL_SKIP';
  }
  if (hasTag(cell, IGNORE_OUTPUT_TAG)) {
    return `tagged ${IGNORE_OUTPUT_TAG}`;
  }
  if (markers.ignoreOutput) {
    return 'marked NBVAL_IGNORE_OUTPUT';
  }
  if (lax && !markers.checkOutput) {
    return 'lax mode compares only cells marked NBVAL_CHECK_OUTPUT';
  }
  return null;
}

/** Compares one code cell with its baseline cell. */
function checkCell(
  cell: CodeCell,
  index: number,
  baselineCell: Cell | undefined,
  baselineIndex: number | undefined,
  options: CompareOptions,
): CellCheck {
  const base: CellCheck = { index, status: 'skipped' };
  if (typeof cell.id === 'string') {
    base.cellId = cell.id;
  }
  const reason = skipReason(cell, options.mode === 'lax');
  if (reason !== null) {
    return { ...base, reason };
  }
  if (
    baselineCell === undefined ||
    baselineIndex === undefined ||
    baselineCell.cell_type !== 'code'
  ) {
    return {
      ...base,
      reason: 'no matching cell in the baseline (by id, or by position and source)',
    };
  }
  base.baselineIndex = baselineIndex;
  if (baselineCell.execution_count === null) {
    // nbval's rule too: an unrun reference cell has nothing to compare with.
    return { ...base, reason: 'the baseline cell never ran (its execution_count is null)' };
  }
  if (cell.execution_count === null && cell.outputs.length === 0) {
    // The run never reached the cell (an earlier error, skip-execution): its absence of output
    // is reported by the run itself, not as a difference.
    return { ...base, reason: 'the cell did not run (its execution_count is null)' };
  }
  const tolerance = cellTolerance(cell, index, baselineCell, {
    rtol: options.rtol,
    atol: options.atol,
  });
  const bEntries = outputEntries(baselineCell.outputs);
  const aEntries = outputEntries(cell.outputs);
  const difference = firstDifference(bEntries, aEntries, tolerance, options.images ?? {});
  if (difference === null) {
    return { ...base, status: 'same' };
  }
  return {
    ...base,
    status: 'differs',
    message: difference.message,
    diff: unifiedDiff(render(bEntries), render(aEntries, difference), index, baselineIndex),
  };
}

/**
 * Compares the outputs of `actual`'s code cells with those of the matching `baseline` cells
 * (matched by id, else by position and identical source: see {@link matchCells}). One result
 * per code cell of `actual`, in order. A cell is skipped, with the reason, when it is marked
 * NBVAL_SKIP or NBVAL_IGNORE_OUTPUT (tag or comment) or tagged `nbstage-ignore-output`, when in
 * lax mode it is not marked NBVAL_CHECK_OUTPUT, when no baseline cell matches, when the
 * baseline cell never ran, or when the cell itself did not run. Otherwise its outputs are
 * compared as {@link outputEntries} cuts them: text after {@link normalizeText}, numbers within
 * `rtol`/`atol`, images by pixels; a baseline cell that ran without output differs from a cell
 * that prints. Throws ValidationError when a tolerance (option or cell metadata) is not a
 * number >= 0.
 */
export function compareNotebooks(
  actual: Notebook,
  baseline: Notebook,
  options: CompareOptions,
): CellCheck[] {
  const compare = cellComparer(actual, baseline, options);
  return actual.cells.flatMap((cell, index) => (cell.cell_type === 'code' ? [compare(index)] : []));
}

/**
 * One cell at a time, as {@link compareNotebooks} compares them: the options are checked and the
 * cells paired once (pairing reads only ids and sources, which a run does not change), then each
 * call compares code cell `index` of `actual` as its outputs stand. Throws ValidationError for
 * bad options at once, and for a cell's bad tolerance when that cell is compared.
 */
export function cellComparer(
  actual: Notebook,
  baseline: Notebook,
  options: CompareOptions,
): (index: number) => CellCheck {
  toleranceValue(options.rtol, 'rtol');
  toleranceValue(options.atol, 'atol');
  toleranceValue(options.images?.tolerance, 'images.tolerance');
  if (options.mode !== undefined && options.mode !== 'strict' && options.mode !== 'lax') {
    throw new ValidationError(
      'mode',
      `mode must be 'strict' or 'lax', not ${JSON.stringify(options.mode)}`,
    );
  }
  const matches = matchCells(actual, baseline);
  return (index) => {
    const cell = actual.cells[index];
    if (cell?.cell_type !== 'code') {
      throw new RangeError(`cell ${index} is not a code cell`);
    }
    const j = matches.get(index);
    return checkCell(cell, index, j === undefined ? undefined : baseline.cells[j], j, options);
  };
}
