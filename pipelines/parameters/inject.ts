/**
 * Papermill's parameter injection: a new cell tagged `injected-parameters` right after the first
 * cell tagged `parameters` (or at the top), replacing any earlier injected cell.
 */
import type { CodeCell, JSONValue, Notebook } from '../notebook/model';
import { cloneNotebook, hasTag, newCellId, splitLines } from '../notebook/model';
import { translateParameters } from './translators';

/** Tag of the cell holding a notebook's parameter defaults. */
export const PARAMETERS_TAG = 'parameters';
/** Tag of the cell nbstage (and papermill) inserts with the run's values. */
export const INJECTED_TAG = 'injected-parameters';

/**
 * Returns a copy of the notebook with the parameters injected, papermill-style: cells tagged
 * `injected-parameters` are removed, and a new code cell with that tag, holding the parameters
 * translated to `language`, goes right after the first cell tagged `parameters`, or first when
 * there is none. With no parameters the copy is unchanged (no cell is added or removed).
 *
 * @param nb - the notebook (not modified)
 * @param params - the parameter values
 * @param language - the kernel language (or alias) to write them in
 * @throws ParameterError for an unknown language or a value it cannot express
 */
export function injectParameters(
  nb: Notebook,
  params: Record<string, JSONValue>,
  language: string,
): Notebook {
  const out = cloneNotebook(nb);
  if (Object.keys(params).length === 0) {
    return out;
  }
  const source = translateParameters(language, params);
  const cell: CodeCell = {
    cell_type: 'code',
    id: newCellId(),
    metadata: { tags: [INJECTED_TAG] },
    source: splitLines(source),
    execution_count: null,
    outputs: [],
  };
  if (out.nbformat_minor < 5) {
    delete cell.id; // cell ids exist from nbformat 4.5 on
  }
  const cells = out.cells.filter((c) => !hasTag(c, INJECTED_TAG));
  const at = cells.findIndex((c) => hasTag(c, PARAMETERS_TAG));
  cells.splice(at + 1, 0, cell); // at === -1: at the top
  out.cells = cells;
  return out;
}
