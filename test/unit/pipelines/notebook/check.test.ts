import { NotebookInvalidError } from '../../../../pipelines/errors';
import { checkNotebook, completeKernelspec } from '../../../../pipelines/notebook/check';
import type { Notebook } from '../../../../pipelines/notebook/model';
import { validateNotebook } from '../../../../pipelines/notebook/validate';

function codeCell(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cell_type: 'code',
    id: `cell-${i}`,
    metadata: {},
    source: `x = ${i}`,
    execution_count: null,
    outputs: [],
    ...extra,
  };
}

function notebook(
  cells: unknown[],
  minor = 5,
  metadata: Record<string, unknown> = {
    kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
  },
): Record<string, unknown> {
  return { nbformat: 4, nbformat_minor: minor, metadata, cells };
}

function refusal(value: unknown): string {
  try {
    checkNotebook(value, 'nb.ipynb');
  } catch (err) {
    expect(err).toBeInstanceOf(NotebookInvalidError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

/** The strict validator accepts it once the run has filled in the kernelspec. */
function expectValidAfterRun(nb: Notebook): void {
  const done = completeKernelspec(nb, { name: 'python3', displayName: 'Python 3 (ipykernel)' });
  expect(() => validateNotebook(JSON.parse(JSON.stringify(done)), 'out')).not.toThrow();
}

describe('checkNotebook', () => {
  it('returns a valid notebook as it is, without warnings', () => {
    const nb = notebook([codeCell(0)]);
    const checked = checkNotebook(nb, 'nb.ipynb');
    expect(checked.notebook).toBe(nb);
    expect(checked.warnings).toEqual([]);
  });

  it('warns about a kernelspec without display_name or name; the run fills them in', () => {
    // nbclient's tests/files/Output.ipynb: "kernelspec": {"language": "python"}
    const nb = notebook([codeCell(0)], 5, { kernelspec: { language: 'python' } });
    const checked = checkNotebook(nb, 'nb.ipynb');
    expect(checked.warnings).toEqual([
      "nb.ipynb: /metadata/kernelspec must have required property 'name': filled in from the kernel's kernelspec when it runs",
      "nb.ipynb: /metadata/kernelspec must have required property 'display_name': filled in from the kernel's kernelspec when it runs",
    ]);
    const done = completeKernelspec(checked.notebook, {
      name: 'python3',
      displayName: 'Python 3 (ipykernel)',
    });
    expect(done.metadata.kernelspec).toEqual({
      language: 'python',
      name: 'python3',
      display_name: 'Python 3 (ipykernel)',
    });
    expectValidAfterRun(checked.notebook);
  });

  it('keeps a display name the notebook has', () => {
    const nb = notebook([codeCell(0)], 5, { kernelspec: { name: 'python3' } });
    const done = completeKernelspec(checkNotebook(nb, 'nb.ipynb').notebook, {
      name: 'other',
      displayName: 'Other',
    });
    expect(done.metadata.kernelspec).toEqual({ name: 'python3', display_name: 'Other' });
  });

  it('generates missing and duplicate cell ids in 4.5, one warning line for many cells', () => {
    const cells = [0, 1, 2, 3, 4, 5, 6].map((i) => {
      const cell = codeCell(i);
      delete cell.id;
      return cell;
    });
    cells.push(codeCell(7), codeCell(7));
    const checked = checkNotebook(notebook(cells), 'nb.ipynb');
    expect(checked.warnings).toEqual([
      "nb.ipynb: /cells/* must have required property 'id': generated a new id (cells 0, 1, 2, 3, 4 and 2 more)",
      "nb.ipynb: /cells/8/id 'cell-7' is not unique: generated a new id",
    ]);
    const ids = checked.notebook.cells.map((c) => c.id);
    expect(new Set(ids).size).toBe(9);
    expectValidAfterRun(checked.notebook);
    // The input is not modified.
    expect(cells[0].id).toBeUndefined();
  });

  it('removes what the schema does not allow and fills what it requires', () => {
    const cells = [
      { cell_type: 'markdown', id: 'm', metadata: {}, source: '# t', outputs: [] },
      { cell_type: 'code', id: 'c', source: '1' },
      codeCell(2, { metadata: { collapsed: 'yes', tags: ['a'] } }),
      codeCell(3, {
        outputs: [
          { output_type: 'display_data', data: { 'text/plain': 'x' } },
          { output_type: 'stream', name: 'stdout' },
          { output_type: 'banner' },
        ],
      }),
    ];
    const nb = notebook(cells, 5, {
      kernelspec: { name: 'python3', display_name: 'Python 3' },
      language_info: { version: '3' },
    });
    const checked = checkNotebook({ ...nb, extra: 1 }, 'nb.ipynb');
    expect(checked.warnings).toEqual([
      "nb.ipynb: notebook must not have additional property 'extra': removed",
      "nb.ipynb: /metadata/language_info must have required property 'name': removed metadata 'language_info'",
      "nb.ipynb: /cells/0 must not have additional property 'outputs': removed",
      "nb.ipynb: /cells/1 must have required property 'metadata': set to {}",
      "nb.ipynb: /cells/1 must have required property 'outputs': set to []",
      "nb.ipynb: /cells/1 must have required property 'execution_count': set to null",
      "nb.ipynb: /cells/2/metadata/collapsed must be boolean: removed metadata 'collapsed'",
      "nb.ipynb: /cells/3/outputs/0 must have required property 'metadata': set to {}",
      "nb.ipynb: /cells/3/outputs/1 must have required property 'text': output removed",
      'nb.ipynb: /cells/3/outputs/2 is not an nbformat output: removed',
    ]);
    const out = checked.notebook;
    expect(out.cells[2].metadata).toEqual({ tags: ['a'] });
    expect(out.cells[3].cell_type === 'code' && out.cells[3].outputs).toHaveLength(1);
    expectValidAfterRun(out);
  });

  it('refuses what cannot run, naming the field', () => {
    expect(refusal({ ...notebook([]), cells: {} })).toBe(
      'nb.ipynb: invalid notebook: /cells must be array',
    );
    expect(refusal(notebook([{ cell_type: 'kode', metadata: {}, source: '' }]))).toBe(
      'nb.ipynb: invalid notebook: /cells/0/cell_type must be one of code, markdown, raw',
    );
    const noSource = codeCell(0);
    delete noSource.source;
    expect(refusal(notebook([noSource]))).toBe(
      "nb.ipynb: invalid notebook: /cells/0 must have required property 'source'",
    );
    expect(refusal(notebook([codeCell(0, { source: 3 })]))).toMatch(/\/cells\/0\/source/);
    expect(refusal({ ...notebook([]), nbformat: 3 })).toBe(
      'nb.ipynb: nbformat 3 is not supported (need 4)',
    );
  });
});
