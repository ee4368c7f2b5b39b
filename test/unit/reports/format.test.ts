import {
  formatBytes,
  formatDuration,
  formatValue,
  truncate,
} from '../../../pipelines/reports/format';
import { cellRunInfo, runInfo } from '../../../pipelines/reports/run-metadata';
import { codeCell, executedNotebook } from './notebook-fixtures';

describe('format helpers', () => {
  it('formats durations by magnitude', () => {
    expect(formatDuration(420)).toBe('0.42 s');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
    expect(formatDuration(-1)).toBe('?');
  });

  it('formats byte counts in powers of 1000', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(12_300)).toBe('12.3 kB');
    expect(formatBytes(4_500_000)).toBe('4.5 MB');
  });

  it('truncates by characters, not UTF-16 units, with an ellipsis', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
    expect(truncate('😀😀😀😀😀😀', 3)).toBe('😀😀…');
  });

  it('formats values as text or JSON', () => {
    expect(formatValue('s')).toBe('s');
    expect(formatValue(0.5)).toBe('0.5');
    expect(formatValue({ a: [1] })).toBe('{"a":[1]}');
  });
});

describe('run metadata', () => {
  it('reads a cell status and ignores cells the run did not consider or bad statuses', () => {
    expect(cellRunInfo(codeCell('x', { status: 'ok', durationMs: 5, stage: 'train' }))).toEqual({
      status: 'ok',
      durationMs: 5,
      stage: 'train',
    });
    expect(cellRunInfo(codeCell('x'))).toBeNull();
    const odd = codeCell('x');
    odd.metadata.nbstage = { status: 'exploded' };
    expect(cellRunInfo(odd)).toBeNull();
  });

  it('reads the run metadata defensively', () => {
    const nb = executedNotebook([], { build: 7, status: 'bogus' as never, metrics: 3 as never });
    const run = runInfo(nb);
    expect(run.build).toBe('7');
    expect(run.status).toBeNull();
    expect(run.metrics).toEqual({});
    expect(run.kernel).toBe('python3');
  });
});
