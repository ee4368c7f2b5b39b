/**
 * The end of a run no kernel ended: status from the failure's code, the record's end, and the
 * notebook's metadata.nbstage.
 */
import type { Notebook } from '../../../pipelines/notebook/model';
import { endRunOutsideKernel } from '../../../server/runs/end-outside-kernel';
import { queuedServiceRun, type ServiceRun } from '../../../server/runs/service-run';

function queuedRun(): ServiceRun {
  return queuedServiceRun({
    id: 'test-run',
    job: 'adhoc/x',
    build: '1',
    notebookName: 'x.ipynb',
    stages: [],
    session: null,
    labels: [],
    parameters: {},
    secrets: [],
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'test',
  });
}

function notebook(): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata: { nbstage: { job: 'adhoc/x' } }, cells: [] };
}

describe('endRunOutsideKernel', () => {
  test('a cancel ends the run cancelled and stamps the notebook', () => {
    const record = queuedRun();
    const nb = notebook();
    const failure = { code: 'NBSTAGE_CANCELLED', message: 'run cancelled' };
    endRunOutsideKernel(record, failure, nb);
    expect(record).toMatchObject({ state: 'cancelled', error: failure });
    expect(record.finishedAt).not.toBeNull();
    expect(record).not.toHaveProperty('warnings');
    expect(nb.metadata.nbstage).toEqual({
      job: 'adhoc/x',
      run_id: 'test-run',
      status: 'cancelled',
      exception: { cell_index: null, ename: 'NBSTAGE_CANCELLED', evalue: 'run cancelled' },
    });
  });

  test('a lost worker ends kernel_died, as a dead kernel does embedded', () => {
    const record = queuedRun();
    const failure = { code: 'NBSTAGE_KERNEL_DIED', message: 'worker w stopped responding' };
    endRunOutsideKernel(record, failure);
    expect(record).toMatchObject({ state: 'kernel_died', error: failure });
  });

  test('any other failure ends it as error; without a notebook only the record changes', () => {
    const record = queuedRun();
    const failure = { code: 'NBSTAGE_UNREACHABLE', message: 'Jupyter server gone' };
    endRunOutsideKernel(record, failure);
    expect(record).toMatchObject({ state: 'error', error: failure });
  });

  test('no failure at all is an error without an exception', () => {
    const record = queuedRun();
    const nb = notebook();
    endRunOutsideKernel(record, null, nb);
    expect(record).toMatchObject({ state: 'error', error: null });
    expect(nb.metadata.nbstage).toMatchObject({ status: 'error', exception: null });
  });
});
