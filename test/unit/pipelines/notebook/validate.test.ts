import { NotebookInvalidError } from '../../../../pipelines/errors';
import { parseNotebook, validateNotebook } from '../../../../pipelines/notebook/validate';

function codeCell(i: number): Record<string, unknown> {
  return {
    cell_type: 'code',
    id: `cell-${i}`,
    metadata: { tags: ['t'] },
    source: ['x = 1\n', 'print(x)'],
    execution_count: 1,
    outputs: [
      { output_type: 'stream', name: 'stdout', text: ['1\n'] },
      {
        output_type: 'execute_result',
        execution_count: 1,
        data: { 'text/plain': '1' },
        metadata: {},
      },
      { output_type: 'error', ename: 'E', evalue: 'v', traceback: ['tb'] },
    ],
  };
}

function notebook(cells: unknown[], minor = 5): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: minor,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3' } },
    cells,
  };
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NotebookInvalidError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('validateNotebook', () => {
  it('accepts a valid 4.5 notebook and returns it', () => {
    const nb = notebook([
      codeCell(0),
      { cell_type: 'markdown', id: 'm', metadata: {}, source: '# hi' },
    ]);
    expect(validateNotebook(nb, 'nb.ipynb')).toBe(nb);
  });

  it('validates against the schema of the minor version', () => {
    const cell = codeCell(0);
    delete cell.id;
    // 4.4 has no cell ids; 4.5 requires them.
    expect(() => validateNotebook(notebook([cell], 4), 'a.ipynb')).not.toThrow();
    expect(messageOf(() => validateNotebook(notebook([cell], 5), 'a.ipynb'))).toBe(
      "a.ipynb: invalid notebook: /cells/0 must have required property 'id'",
    );
    // and an id is an additional property in 4.4
    expect(messageOf(() => validateNotebook(notebook([codeCell(0)], 4), 'a.ipynb'))).toBe(
      "a.ipynb: invalid notebook: /cells/0 must not have additional property 'id'",
    );
  });

  it('validates minors above 5 against 4.5', () => {
    expect(() => validateNotebook(notebook([codeCell(0)], 7), 'n.ipynb')).not.toThrow();
    const cell = codeCell(0);
    delete cell.id;
    expect(() => validateNotebook(notebook([cell], 9), 'n.ipynb')).toThrow(/cells\/0.*'id'/);
  });

  it('names the bad cell_type and the allowed values', () => {
    const cells = [codeCell(0), codeCell(1), codeCell(2), { ...codeCell(3), cell_type: 'foo' }];
    expect(messageOf(() => validateNotebook(notebook(cells), 'nb.ipynb'))).toBe(
      'nb.ipynb: invalid notebook: /cells/3/cell_type must be one of code, markdown, raw',
    );
  });

  it('reports the problem inside the branch the cell_type selects', () => {
    const cell = codeCell(0);
    delete cell.execution_count;
    expect(messageOf(() => validateNotebook(notebook([cell]), 'nb.ipynb'))).toBe(
      "nb.ipynb: invalid notebook: /cells/0 must have required property 'execution_count'",
    );
  });

  it('reports problems inside outputs with their path', () => {
    const cell = codeCell(0);
    (cell.outputs as Record<string, unknown>[])[0].name = 5;
    expect(messageOf(() => validateNotebook(notebook([cell]), 'nb.ipynb'))).toBe(
      'nb.ipynb: invalid notebook: /cells/0/outputs/0/name must be string',
    );
    const other = codeCell(0);
    (other.outputs as Record<string, unknown>[])[1].output_type = 'nope';
    expect(messageOf(() => validateNotebook(notebook([other]), 'nb.ipynb'))).toBe(
      'nb.ipynb: invalid notebook: /cells/0/outputs/1/output_type must be one of execute_result, display_data, stream, error',
    );
  });

  it('reports bad metadata types', () => {
    const cell = codeCell(0);
    cell.metadata = { tags: [1] };
    expect(messageOf(() => validateNotebook(notebook([cell]), 'nb.ipynb'))).toBe(
      'nb.ipynb: invalid notebook: /cells/0/metadata/tags/0 must be string',
    );
  });

  it('reports top-level problems', () => {
    const nb = notebook([]);
    delete nb.cells;
    expect(messageOf(() => validateNotebook(nb, 'x.ipynb'))).toBe(
      "x.ipynb: invalid notebook: notebook must have required property 'cells'",
    );
    expect(messageOf(() => validateNotebook({ ...notebook([]), cells: {} }, 'x.ipynb'))).toBe(
      'x.ipynb: invalid notebook: /cells must be array',
    );
    expect(messageOf(() => validateNotebook({ ...notebook([]), extra: 1 }, 'x.ipynb'))).toBe(
      "x.ipynb: invalid notebook: notebook must not have additional property 'extra'",
    );
  });

  it('rejects other nbformat versions and non-objects', () => {
    expect(messageOf(() => validateNotebook({ ...notebook([]), nbformat: 3 }, 'old.ipynb'))).toBe(
      'old.ipynb: nbformat 3 is not supported (need 4)',
    );
    expect(messageOf(() => validateNotebook({ cells: [] }, 'x.ipynb'))).toBe(
      'x.ipynb: nbformat is missing (need 4)',
    );
    expect(messageOf(() => validateNotebook([], 'x.ipynb'))).toBe(
      'x.ipynb: invalid notebook: expected a JSON object',
    );
    expect(
      messageOf(() => validateNotebook({ ...notebook([]), nbformat_minor: 'a' }, 'x.ipynb')),
    ).toMatch(/nbformat_minor/);
  });

  it('validates a 500-cell notebook and names a bad cell deep in it', () => {
    // Speed is the benchmark's business (never a timed assertion here); this checks that a
    // large notebook is checked cell by cell, to the last one.
    const cells = Array.from({ length: 500 }, (_, i) => codeCell(i));
    expect(() => validateNotebook(notebook(cells), 'big.ipynb')).not.toThrow();
    const broken = structuredClone(cells);
    (broken[499] as unknown as Record<string, unknown>).source = 42;
    expect(messageOf(() => validateNotebook(notebook(broken), 'big.ipynb'))).toMatch(
      /\/cells\/499/,
    );
  });
});

describe('parseNotebook', () => {
  it('parses and validates', () => {
    const nb = parseNotebook(JSON.stringify(notebook([codeCell(0)])), 'nb.ipynb');
    expect(nb.cells).toHaveLength(1);
  });

  it('names the file and the JSON error on one line', () => {
    const message = messageOf(() => parseNotebook('{"cells": [', 'broken.ipynb'));
    expect(message).toMatch(/^broken\.ipynb: not valid JSON: /);
    expect(message).not.toContain('\n');
  });

  it('validates after parsing', () => {
    expect(() => parseNotebook('{"nbformat": 4}', 'p.ipynb')).toThrow(NotebookInvalidError);
  });
});
