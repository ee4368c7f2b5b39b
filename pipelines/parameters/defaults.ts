/**
 * The defaults of a notebook's `parameters` cell, read from its simple assignments in the
 * kernel's language, so a Jenkinsfile can declare them as build parameters.
 */
import type { Cell, Notebook } from '../notebook/model';
import { hasTag, joinSource } from '../notebook/model';
import { PARAMETERS_TAG } from './inject';
import type { ParameterDefault } from './languages/language';
import { parameterLanguage } from './languages/registry';

export type { ParameterDefault } from './languages/language';

/**
 * Best-effort reading of the first `parameters` cell's simple top-level assignments: python
 * `name = literal  # comment` (also `name: type = ...`), bash `name=value  # comment` (also
 * `export`/`declare`), R `name <- literal` / `name = literal`. Other lines are ignored; values
 * that are not literals are reported as `expression` with their source text.
 *
 * @param nb - the notebook
 * @param language - the kernel language (or alias)
 * @returns the defaults in source order; empty when there is no `parameters` cell
 * @throws ParameterError for an unknown language
 */
export function parametersCellDefaults(nb: Notebook, language: string): ParameterDefault[] {
  const lang = parameterLanguage(language);
  const cell: Cell | undefined = nb.cells.find(
    (c) => c.cell_type === 'code' && hasTag(c, PARAMETERS_TAG),
  );
  if (cell === undefined) {
    return [];
  }
  const source = joinSource(cell.source);
  const found = new Map<string, ParameterDefault>();
  let next = 0; // lines before `next` belong to the previous (multi-line) value
  let offset = 0;
  for (const line of source.split('\n')) {
    const start = offset;
    offset += line.length + 1;
    if (start < next) {
      continue;
    }
    const result = lang.parseAssignment(source, start);
    if (result !== null) {
      found.delete(result.param.name); // a later assignment wins, in its own position
      found.set(result.param.name, result.param);
      next = result.end;
    }
  }
  return [...found.values()];
}
