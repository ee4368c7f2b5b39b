/**
 * The JSON depth check: iterative (a value far deeper than the stack allows is walked without
 * overflowing), names the path where the limit is passed, counts parameters one by one, and
 * reads its limit from NBSTAGE_MAX_JSON_DEPTH (empty means the default; nonsense is refused).
 */
import {
  DEFAULT_MAX_JSON_DEPTH,
  checkJsonDepth,
  checkRequestDepth,
  fileDepthProblem,
  maxJsonDepth,
  tooDeepPath,
} from '../../../../pipelines/notebook/json-depth';
import { UsageError, ValidationError } from '../../../../pipelines/errors';

function deepArray(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) {
    value = [value];
  }
  return value;
}

describe('JSON depth', () => {
  it('checks a value 1,000,000 levels deep without overflowing the stack', () => {
    expect(tooDeepPath(deepArray(1_000_000), 64)).toHaveLength(64);
  });

  it('counts the root as level 1 and scalars as no level', () => {
    expect(tooDeepPath(deepArray(3), 3)).toBeNull();
    expect(tooDeepPath(deepArray(4), 3)).toEqual([0, 0, 0]);
    expect(tooDeepPath('text', 0)).toBeNull();
    expect(tooDeepPath({ a: { b: [{}] } }, 4)).toBeNull();
    expect(tooDeepPath({ a: { b: [{}] } }, 3)).toEqual(['a', 'b', 0]);
  });

  it('names the field, cut short after a few keys', () => {
    expect(() => checkJsonDepth({ x: deepArray(10) }, 'body.notebook', 4)).toThrow(
      new ValidationError(
        'body.notebook.x.0.0.0',
        'body.notebook.x.0.0.0: nested deeper than 4 levels of arrays and objects (the limit is NBSTAGE_MAX_JSON_DEPTH)',
      ),
    );
    expect(fileDepthProblem({ metadata: { a: deepArray(100) } }, 8)).toMatch(
      /^\/metadata\/a\/0\/0\/0\/0\/…: nested deeper than 8 levels/,
    );
  });

  it('gives the notebook and each parameter of a request the whole limit', () => {
    const nb = { metadata: { a: deepArray(2) } }; // 4 levels
    expect(() =>
      checkRequestDepth({ notebook: nb, parameters: { p: deepArray(4) } }, 'body', 4),
    ).not.toThrow();
    expect(() =>
      checkRequestDepth({ notebook: nb, parameters: { p: deepArray(5) } }, 'body', 4),
    ).toThrow(/^body\.parameters\.p\.0\.0\.0\.0: nested deeper/);
    expect(() => checkRequestDepth(deepArray(5), 'body', 4)).toThrow(/^body\.0\.0\.0\.0:/);
  });

  it('reads its limit from NBSTAGE_MAX_JSON_DEPTH', () => {
    expect(maxJsonDepth({})).toBe(DEFAULT_MAX_JSON_DEPTH);
    expect(maxJsonDepth({ NBSTAGE_MAX_JSON_DEPTH: '' })).toBe(64);
    expect(maxJsonDepth({ NBSTAGE_MAX_JSON_DEPTH: '200' })).toBe(200);
    for (const bad of ['0', '-1', '1.5', 'deep', '100000']) {
      expect(() => maxJsonDepth({ NBSTAGE_MAX_JSON_DEPTH: bad })).toThrow(UsageError);
    }
  });
});
