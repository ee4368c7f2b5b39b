/**
 * Which baseline cell each cell of a run is compared with: the one with the same cell id, else
 * the code cell at the same position whose source is the same.
 */
import { hasTag, joinSource, type Notebook } from '../notebook/model';
import { INJECTED_TAG } from '../parameters/inject';

/** Indexes (into `cells`) of the code cells that count for matching by position. */
function positionalCodeCells(nb: Notebook): number[] {
  // The cell parameters are injected into exists in a run and perhaps not in its baseline (or
  // with other values); counting it would shift every later cell by one.
  return nb.cells.flatMap((c, i) =>
    c.cell_type === 'code' && !hasTag(c, INJECTED_TAG) ? [i] : [],
  );
}

/**
 * For each code cell of `actual`, the index (into `baseline.cells`) of the baseline cell it is
 * compared with, or undefined when none matches. The rule:
 *
 * 1. A cell with an `id` matches the baseline code cell with the same id (the first one not
 *    yet taken, should a notebook repeat an id), whatever its position or source.
 * 2. Otherwise it matches the baseline code cell at the same position among code cells
 *    (cells tagged `injected-parameters` not counted, on either side) when that cell's source
 *    is exactly the same and no cell took it by id.
 *
 * So a cell that has no id in common with the baseline and was edited, or moved, has no match.
 */
export function matchCells(actual: Notebook, baseline: Notebook): Map<number, number | undefined> {
  const byId = new Map<string, number[]>();
  baseline.cells.forEach((c, i) => {
    if (c.cell_type === 'code' && typeof c.id === 'string') {
      byId.set(c.id, [...(byId.get(c.id) ?? []), i]);
    }
  });
  const taken = new Set<number>();
  const matches = new Map<number, number | undefined>();
  // Ids first, over all cells, so that a cell matched by position cannot take a baseline cell
  // that a later cell names by id.
  actual.cells.forEach((c, i) => {
    if (c.cell_type !== 'code') {
      return;
    }
    const candidates = typeof c.id === 'string' ? (byId.get(c.id) ?? []) : [];
    const found = candidates.find((j) => !taken.has(j));
    matches.set(i, found);
    if (found !== undefined) {
      taken.add(found);
    }
  });
  const actualPositions = positionalCodeCells(actual);
  const baselinePositions = positionalCodeCells(baseline);
  actualPositions.forEach((i, k) => {
    const j = baselinePositions[k];
    if (matches.get(i) !== undefined || j === undefined || taken.has(j)) {
      return;
    }
    if (joinSource(actual.cells[i].source) === joinSource(baseline.cells[j].source)) {
      matches.set(i, j);
      taken.add(j);
    }
  });
  return matches;
}
