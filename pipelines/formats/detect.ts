/**
 * Which format a notebook file or request holds: an `.ipynb` notebook or an Apache Zeppelin
 * note. The CLI and the service decide it here, the same way.
 */

/** The formats nbstage reads. */
export type NotebookFormat = 'ipynb' | 'zeppelin';

/** The last segment of a path, with either separator. */
function baseName(name: string): string {
  return name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
}

/**
 * The format of a notebook from its file name and its parsed JSON: a Zeppelin note when the name
 * ends in `.zpln` (any case) or is `note.json` (Zeppelin's own file name), or when the JSON has a
 * `paragraphs` list and no `cells`; an `.ipynb` notebook otherwise (JSON with both `cells` and
 * `paragraphs` is a notebook, checked as one).
 *
 * @param name - the file name or path (undefined or empty when there is none)
 * @param parsed - the file's parsed JSON
 */
export function detectFormat(name: string | undefined, parsed: unknown): NotebookFormat {
  const base = baseName(name ?? '');
  if (base.toLowerCase().endsWith('.zpln') || base === 'note.json') {
    return 'zeppelin';
  }
  const looksLikeNote =
    typeof parsed === 'object' &&
    parsed !== null &&
    Array.isArray((parsed as Record<string, unknown>).paragraphs) &&
    !('cells' in parsed);
  return looksLikeNote ? 'zeppelin' : 'ipynb';
}
