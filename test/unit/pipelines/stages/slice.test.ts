import { NotebookInvalidError, StageNotFoundError } from '../../../../pipelines/errors';
import { newCodeCell, type Cell, type Notebook } from '../../../../pipelines/notebook/model';
import { listStages, planStages } from '../../../../pipelines/stages/slice';

function md(tags: string[] = []): Cell {
  return { cell_type: 'markdown', source: 'text', metadata: tags.length > 0 ? { tags } : {} };
}

function code(tags: string[] = [], nbstage?: Cell['metadata']['nbstage']): Cell {
  const cell = newCodeCell('x', tags);
  if (nbstage !== undefined) {
    cell.metadata.nbstage = nbstage;
  }
  return cell;
}

function nbOf(cells: Cell[]): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}

// 0 md, 1 code (preamble), 2 code params (preamble), 3 md stage:prep, 4 code, 5 raw,
// 6 code stage:train (gpu), 7 code skip-execution, 8 md, 9 code stage:report, 10 code
const NB = nbOf([
  md(),
  code(),
  code(['parameters']),
  md(['stage:prep']),
  code(),
  { cell_type: 'raw', source: '', metadata: {} },
  code(['stage:train'], { agent: 'gpu', gpus: 2, timeout: 600 }),
  code(['skip-execution']),
  md(),
  code(['stage:report']),
  code(),
]);

describe('listStages', () => {
  it('lists stages with their first cell and options', () => {
    expect(listStages(NB)).toEqual([
      { name: 'prep', firstCell: 3, options: {} },
      { name: 'train', firstCell: 6, options: { agent: 'gpu', gpus: 2, timeout: 600 } },
      { name: 'report', firstCell: 9, options: {} },
    ]);
  });

  it('is empty for a notebook without stage tags', () => {
    expect(listStages(nbOf([code(), code(['parameters'])]))).toEqual([]);
  });

  it('rejects duplicate stage names', () => {
    const nb = nbOf([code(['stage:a']), code(['stage:a'])]);
    expect(() => listStages(nb)).toThrow(NotebookInvalidError);
    expect(() => listStages(nb)).toThrow('stage "a" is started twice (cells 0 and 1)');
  });

  it('rejects cells with two stage tags or an empty name', () => {
    expect(() => listStages(nbOf([code(['stage:a', 'stage:b'])]))).toThrow(
      /cell 0: more than one stage tag/,
    );
    expect(() => listStages(nbOf([code(['stage:'])]))).toThrow(/cell 0: stage tag without a name/);
  });

  it('rejects options of the wrong type, naming cell and field', () => {
    const bad =
      (nbstage: Cell['metadata']['nbstage']): (() => unknown) =>
      () =>
        listStages(nbOf([code(), code(['stage:s'], nbstage)]));
    expect(bad({ gpus: -1 })).toThrow(
      'cell 1 (stage "s"): metadata.nbstage.gpus must be a non-negative integer',
    );
    expect(bad({ gpus: 1.5 })).toThrow(/gpus/);
    expect(bad({ gpus: '2' })).toThrow(/gpus/);
    expect(bad({ timeout: 0 })).toThrow(/cell 1 .*timeout must be a number of seconds > 0/);
    expect(bad({ timeout: '60' })).toThrow(/timeout/);
    expect(bad({ agent: 3 })).toThrow(/cell 1 .*agent must be a non-empty string/);
    expect(bad({ agent: 'gpu', other: 'ignored', kernel: 'python3' })).not.toThrow();
  });
});

describe('planStages', () => {
  it('runs the whole notebook when no stage is selected', () => {
    const plan = planStages(NB, [], { includePreamble: true });
    expect(plan.cells).toEqual([1, 2, 4, 6, 7, 9, 10]);
    expect(plan.stages).toEqual(['prep', 'train', 'report']);
    expect(plan.stageOf).toEqual([
      null,
      null,
      null,
      'prep',
      'prep',
      'prep',
      'train',
      'train',
      'train',
      'report',
      'report',
    ]);
    expect(plan.options).toEqual({
      prep: {},
      train: { agent: 'gpu', gpus: 2, timeout: 600 },
      report: {},
    });
  });

  it('runs the preamble then the selected stages in notebook order', () => {
    const plan = planStages(NB, ['report', 'prep'], { includePreamble: true });
    expect(plan.cells).toEqual([1, 2, 4, 9, 10]);
    expect(plan.stages).toEqual(['prep', 'report']);
    expect(Object.keys(plan.options)).toEqual(['prep', 'report']);
  });

  it('leaves the preamble out when asked (kernel already warm)', () => {
    expect(planStages(NB, ['train'], { includePreamble: false }).cells).toEqual([6, 7]);
    expect(planStages(NB, [], { includePreamble: false }).cells).toEqual([4, 6, 7, 9, 10]);
  });

  it('keeps skip-execution cells for the executor to report', () => {
    expect(planStages(NB, ['train'], { includePreamble: false }).cells).toContain(7);
  });

  it('treats a notebook without stages as all preamble', () => {
    const nb = nbOf([code(), md(), code()]);
    const plan = planStages(nb, [], { includePreamble: true });
    expect(plan).toEqual({ cells: [0, 2], stages: [], stageOf: [null, null, null], options: {} });
  });

  it('rejects unknown stages, listing those the notebook has', () => {
    expect(() => planStages(NB, ['deploy'], { includePreamble: true })).toThrow(StageNotFoundError);
    expect(() => planStages(NB, ['deploy'], { includePreamble: true })).toThrow(
      'unknown stage "deploy" (notebook has: prep, train, report)',
    );
    expect(() => planStages(nbOf([code()]), ['x'], { includePreamble: true })).toThrow(
      'unknown stage "x" (notebook has no stages)',
    );
  });

  it('ignores duplicate selections', () => {
    expect(planStages(NB, ['train', 'train'], { includePreamble: false }).stages).toEqual([
      'train',
    ]);
  });
});
