/**
 * nbval's cell markers, read as nbval reads them: as cell tags (`nbval-skip`) and as comment
 * lines in the source (`# NBVAL_SKIP`), comments winning over tags. Also the nbstage tag that
 * excludes a cell's outputs from the comparison.
 */
import { cellTags, joinSource, type Cell } from '../notebook/model';

/** The tag that leaves a cell's outputs out of the comparison with the baseline. */
export const IGNORE_OUTPUT_TAG = 'nbstage-ignore-output';

/** What nbval's markers say about a cell. */
export interface NbvalMarkers {
  /** NBVAL_SKIP: the cell is neither run nor compared. */
  skip: boolean;
  /** NBVAL_IGNORE_OUTPUT: the cell runs but its outputs are not compared. */
  ignoreOutput: boolean;
  /** NBVAL_RAISES_EXCEPTION: an error in the cell is expected (its outputs still compare). */
  raisesException: boolean;
  /** NBVAL_CHECK_OUTPUT: the outputs are compared even in lax mode. */
  checkOutput: boolean;
}

/** The option a marker sets, as nbval names them: `check` is the tri-state of two markers. */
type Option = 'check' | 'checkException' | 'skip';
type Setting = { option: Option; value: boolean };

// nbval's markers; PYTEST_VALIDATE_IGNORE_OUTPUT is its older spelling of NBVAL_IGNORE_OUTPUT.
const COMMENT_MARKERS: Record<string, Setting> = {
  PYTEST_VALIDATE_IGNORE_OUTPUT: { option: 'check', value: false },
  NBVAL_IGNORE_OUTPUT: { option: 'check', value: false },
  NBVAL_CHECK_OUTPUT: { option: 'check', value: true },
  NBVAL_RAISES_EXCEPTION: { option: 'checkException', value: true },
  NBVAL_SKIP: { option: 'skip', value: true },
};

// Tags are the comment markers in lower case with dashes, plus nbclient's `raises-exception`.
const TAG_MARKERS: Record<string, Setting> = {
  ...Object.fromEntries(
    Object.entries(COMMENT_MARKERS).map(([k, v]) => [k.toLowerCase().replace(/_/g, '-'), v]),
  ),
  'raises-exception': { option: 'checkException', value: true },
};

/** The settings found, the later of two for one option winning (as nbval warns and does). */
function collect(found: Map<Option, boolean>, settings: (Setting | undefined)[]): void {
  for (const s of settings) {
    if (s !== undefined) {
      found.set(s.option, s.value);
    }
  }
}

/**
 * The nbval markers of a cell. Tags (`nbval-skip`, `nbval-ignore-output`, `nbval-check-output`,
 * `nbval-raises-exception`, `raises-exception`) are read first, then every line of the source
 * that is a comment holding nothing but a marker (`# NBVAL_SKIP`; nbval looks at every comment
 * line, not only the first); a comment overrides a tag for the same option, and of two markers
 * for one option the later wins. NBVAL_IGNORE_OUTPUT and NBVAL_CHECK_OUTPUT set one option, so
 * at most one of `ignoreOutput` and `checkOutput` is true.
 */
export function nbvalMarkers(cell: Cell): NbvalMarkers {
  const found = new Map<Option, boolean>();
  collect(
    found,
    cellTags(cell).map((t) => (Object.hasOwn(TAG_MARKERS, t) ? TAG_MARKERS[t] : undefined)),
  );
  const comments = joinSource(cell.source)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('#'))
    .map((line) => line.replace(/^#+/, '').trim());
  collect(
    found,
    comments.map((c) => (Object.hasOwn(COMMENT_MARKERS, c) ? COMMENT_MARKERS[c] : undefined)),
  );
  const check = found.get('check');
  return {
    skip: found.get('skip') === true,
    ignoreOutput: check === false,
    raisesException: found.get('checkException') === true,
    checkOutput: check === true,
  };
}
