/**
 * nbval's markers as tags and as comment lines, with nbval's precedence: comments over tags,
 * the later of two markers for one option.
 */
import { nbvalMarkers } from '../../../pipelines/checks/markers';
import type { CodeCell } from '../../../pipelines/notebook/model';

function cell(source: string, tags?: string[]): CodeCell {
  return {
    cell_type: 'code',
    source,
    metadata: tags === undefined ? {} : { tags },
    execution_count: null,
    outputs: [],
  };
}
const none = { skip: false, ignoreOutput: false, raisesException: false, checkOutput: false };

describe('nbvalMarkers', () => {
  it('reads each marker as a tag', () => {
    expect(nbvalMarkers(cell('x', ['nbval-skip']))).toEqual({ ...none, skip: true });
    expect(nbvalMarkers(cell('x', ['nbval-ignore-output']))).toEqual({
      ...none,
      ignoreOutput: true,
    });
    expect(nbvalMarkers(cell('x', ['nbval-raises-exception']))).toEqual({
      ...none,
      raisesException: true,
    });
    expect(nbvalMarkers(cell('x', ['raises-exception']))).toEqual({
      ...none,
      raisesException: true,
    });
    expect(nbvalMarkers(cell('x', ['nbval-check-output']))).toEqual({ ...none, checkOutput: true });
    expect(nbvalMarkers(cell('x', ['parameters']))).toEqual(none);
  });

  it('reads each marker as a comment line, first or later', () => {
    expect(nbvalMarkers(cell('# NBVAL_SKIP\nx = 1'))).toEqual({ ...none, skip: true });
    expect(nbvalMarkers(cell(['#NBVAL_IGNORE_OUTPUT\n', 'x'].join('')))).toEqual({
      ...none,
      ignoreOutput: true,
    });
    expect(nbvalMarkers(cell('import x\n  ## NBVAL_RAISES_EXCEPTION\n1/0'))).toEqual({
      ...none,
      raisesException: true,
    });
    expect(nbvalMarkers(cell('# NBVAL_CHECK_OUTPUT\nprint(1)'))).toEqual({
      ...none,
      checkOutput: true,
    });
    expect(nbvalMarkers(cell('# PYTEST_VALIDATE_IGNORE_OUTPUT\nx'))).toEqual({
      ...none,
      ignoreOutput: true,
    });
    // Not a whole comment, or not a comment at all.
    expect(
      nbvalMarkers(cell('x = 1  # NBVAL_SKIP\n# NBVAL_SKIP please\nprint("NBVAL_SKIP")')),
    ).toEqual(none);
  });

  it('lets a comment override a tag, and the later marker win', () => {
    expect(nbvalMarkers(cell('# NBVAL_CHECK_OUTPUT\nx', ['nbval-ignore-output']))).toEqual({
      ...none,
      checkOutput: true,
    });
    expect(nbvalMarkers(cell('x', ['nbval-check-output', 'nbval-ignore-output']))).toEqual({
      ...none,
      ignoreOutput: true,
    });
    expect(
      nbvalMarkers(cell('# NBVAL_SKIP\n# NBVAL_RAISES_EXCEPTION\nx', ['nbval-check-output'])),
    ).toEqual({
      skip: true,
      ignoreOutput: false,
      raisesException: true,
      checkOutput: true,
    });
  });
});
