/**
 * What a run is checked against, resolved before any kernel starts (bad input is exit 2 then,
 * never after the run): the baseline `--baseline` names (`stored`: the outputs saved in the input
 * notebook, as nbval; a path: an executed notebook), the tolerance, and the gates of `--gate` and
 * of the notebook's `metadata.nbstage.gates`. `last-success` and build numbers name versions in
 * the service's store: the service resolves them into a notebook before the run is queued.
 */
import { UsageError, ValidationError } from '../errors';
import { readNotebookFile } from '../notebook/io';
import { hasTag, type Cell, type Notebook } from '../notebook/model';
import { parseGate, type Gate } from './gates';
import { nbvalMarkers } from './markers';
import { DEFAULT_RTOL, notebookMetrics, type CheckPlan } from './verdict';

/** What the caller asked to be checked (CLI flags, the run request). */
export interface CheckRequest {
  /** `stored`, `last-success`, a build, or the path of an executed notebook. */
  readonly baseline?: string;
  /** The baseline already resolved (by the service, from its store), with what it is. */
  readonly baselineNotebook?: { readonly notebook: Notebook; readonly label: string } | null;
  /** Why the service found no baseline (a job's first build for `last-success`). */
  readonly noBaseline?: string;
  readonly rtol?: number;
  readonly gates?: readonly string[];
  /**
   * The run executes and is checked elsewhere (`--server`): the request is only checked here
   * (gates, rtol), and the plan is null.
   */
  readonly elsewhere?: boolean;
}

/** Whether a baseline names an executed notebook's file (`.ipynb`, or a path). */
export function fileBaseline(spec: string): boolean {
  return /\.ipynb$/i.test(spec) || spec.includes('/') || spec.includes('\\');
}

/** Baselines the store resolves (`last-success`, a build), not this process. */
export function storeBaseline(spec: string): boolean {
  return spec !== 'stored' && !fileBaseline(spec);
}

/** The gates of a notebook's `metadata.nbstage.gates` (a list of strings). @throws ValidationError */
function notebookGates(nb: Notebook): string[] {
  const gates = nb.metadata.nbstage?.gates;
  if (gates === undefined) {
    return [];
  }
  if (!Array.isArray(gates) || gates.some((g) => typeof g !== 'string')) {
    throw new ValidationError(
      'metadata.nbstage.gates',
      'metadata.nbstage.gates must be a list of gates such as "accuracy >= 0.9"',
    );
  }
  return gates as string[];
}

/**
 * The check plan of a run of `input` (the notebook as read, before parameters are injected), or
 * null when nothing is to be checked.
 *
 * @throws UsageError for a baseline only the service can resolve; ValidationError for a bad
 *   `rtol`, a malformed gate (naming it) or a baseline file that is not a notebook
 */
export async function resolveCheckPlan(
  request: CheckRequest | undefined,
  input: Notebook,
): Promise<CheckPlan | null> {
  const gateTexts = [...(request?.gates ?? []), ...notebookGates(input)];
  if (request?.baseline === undefined && gateTexts.length === 0) {
    return null;
  }
  checkCellTolerances(input);
  const rtol = request?.rtol ?? DEFAULT_RTOL;
  if (!Number.isFinite(rtol) || rtol < 0) {
    throw new ValidationError('rtol', `--rtol must be a number >= 0, got ${String(rtol)}`);
  }
  const gates: Gate[] = gateTexts.map((text, i) =>
    parseGate(text, i < (request?.gates ?? []).length ? '--gate' : 'metadata.nbstage.gates'),
  );
  if (request?.elsewhere === true) {
    return null;
  }
  let baseline: Notebook | null = null;
  let label: string | null = null;
  const spec = request?.baseline;
  if (request?.baselineNotebook !== undefined && request.baselineNotebook !== null) {
    baseline = request.baselineNotebook.notebook;
    label = request.baselineNotebook.label;
  } else if (spec === 'stored') {
    baseline = structuredClone(input);
    label = 'stored';
  } else if (spec !== undefined && storeBaseline(spec) && request?.noBaseline === undefined) {
    throw new UsageError(
      `--baseline ${spec} names a version in the service's store: run with --server`,
    );
  } else if (spec !== undefined && !storeBaseline(spec)) {
    baseline = (await readNotebookFile(spec)).notebook;
    label = spec;
  }
  return {
    baseline,
    baselineLabel: label,
    ...(request?.noBaseline === undefined ? {} : { noBaseline: request.noBaseline }),
    rtol,
    gates,
    baselineMetrics: baseline === null ? null : notebookMetrics(baseline),
    comparer: baseline === null ? null : (await import('./compare')).cellComparer,
  };
}

/** A cell's `metadata.nbstage.rtol` / `atol`, when set, must be numbers >= 0. @throws ValidationError */
function checkCellTolerances(nb: Notebook): void {
  nb.cells.forEach((cell, i) => {
    for (const name of ['rtol', 'atol'] as const) {
      const value = cell.metadata.nbstage?.[name];
      if (
        value !== undefined &&
        (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      ) {
        const field = `cells/${i}/metadata/nbstage/${name}`;
        throw new ValidationError(
          field,
          `${field} must be a number >= 0, got ${JSON.stringify(value)}`,
        );
      }
    }
  });
}

/**
 * The notebook to execute when checks run as nbval's would: a cell marked NBVAL_SKIP (tag or
 * first-line comment) is not executed (`skip-execution`), one marked NBVAL_RAISES_EXCEPTION
 * is expected to raise (`raises-exception`). Other cells are the same objects.
 */
export function withNbvalMarkers(nb: Notebook): Notebook {
  let changed = false;
  const cells = nb.cells.map((cell): Cell => {
    if (cell.cell_type !== 'code') {
      return cell;
    }
    const markers = nbvalMarkers(cell);
    const tags = [
      ...(markers.skip && !hasTag(cell, 'skip-execution') ? ['skip-execution'] : []),
      ...(markers.raisesException && !hasTag(cell, 'raises-exception') ? ['raises-exception'] : []),
    ];
    if (tags.length === 0) {
      return cell;
    }
    changed = true;
    const existing = Array.isArray(cell.metadata.tags) ? (cell.metadata.tags as string[]) : [];
    return { ...cell, metadata: { ...cell.metadata, tags: [...existing, ...tags] } };
  });
  return changed ? { ...nb, cells } : nb;
}
