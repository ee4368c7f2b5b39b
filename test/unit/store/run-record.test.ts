/**
 * What goes into a version besides the notebook: the checked input, the run.json record, the
 * commit message, artifact names that cannot escape, and records read back.
 */
import {
  CorruptedFileError,
  NotebookInvalidError,
  ValidationError,
} from '../../../pipelines/errors';
import { validateArtifactName } from '../../../server/store/artifact-store';
import {
  buildRunRecord,
  commitMessage,
  parseStoredRun,
  validateRunInput,
} from '../../../server/store/run-record';
import type { RunVersionInput } from '../../../server/store/types';
import { makeNotebook } from '../../helpers/notebooks';

function input(overrides: Partial<RunVersionInput> = {}): RunVersionInput {
  return {
    job: 'team/ml/train',
    build: '42',
    runId: 'run-1',
    notebook: makeNotebook(['1']),
    run: { status: 'completed', metrics: { acc: 1 } },
    ...overrides,
  };
}

describe('validateRunInput', () => {
  it('accepts a well-formed input', () => {
    expect(validateRunInput(input({ stage: 'train', author: 'alice' })).job).toBe('team/ml/train');
  });

  it('names the offending field', () => {
    const cases: [unknown, string][] = [
      [{ ...input(), job: 3 }, 'job'],
      [{ ...input(), build: '' }, 'build'],
      [{ ...input(), runId: undefined }, 'runId'],
      [{ ...input(), extra: 1 }, 'extra'],
      [{ ...input(), artifacts: [{ name: 'a' }] }, 'artifacts/0/path'],
      [{ ...input(), job: 'a//b' }, 'job'],
      [{ ...input(), build: '4/2' }, 'build'],
    ];
    for (const [value, field] of cases) {
      let error: unknown;
      try {
        validateRunInput(value);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
  });

  it('checks the notebook against nbformat', () => {
    const notebook = { ...makeNotebook(['1']), cells: [{ cell_type: 'kode' }] };
    expect(() => validateRunInput({ ...input(), notebook })).toThrow(NotebookInvalidError);
  });
});

describe('buildRunRecord', () => {
  it('puts the identity first, keeps the run, and lists stored artifacts', () => {
    const record = buildRunRecord(
      input({ stage: 'train', run: { job: 'ignored', status: 'failed', duration: 3 } }),
      [{ name: 'model.bin', sha256: 'a'.repeat(64), size: 10 }],
    );
    expect(Object.keys(record)).toEqual([
      'job',
      'build',
      'run_id',
      'stage',
      'status',
      'duration',
      'artifacts',
    ]);
    expect(record.job).toBe('team/ml/train');
    expect(record.artifacts).toEqual([{ name: 'model.bin', sha256: 'a'.repeat(64), size: 10 }]);
  });
});

describe('commitMessage', () => {
  it('is "<job> #<build> <stage>: <status>" on one line', () => {
    expect(commitMessage(input(), makeNotebook(['1']))).toBe('team/ml/train #42: completed\n');
    expect(commitMessage(input({ stage: 'train' }), makeNotebook(['1']))).toBe(
      'team/ml/train #42 train: completed\n',
    );
    expect(commitMessage(input({ job: 'a\nb', run: {} }), makeNotebook(['1']))).toBe(
      'a\\x0ab #42: unknown\n',
    );
  });
});

describe('validateArtifactName', () => {
  it('accepts relative names', () => {
    for (const ok of ['model.bin', 'plots/loss curve.png', 'données/été.csv', '..a/b..']) {
      expect(() => validateArtifactName(ok)).not.toThrow();
    }
  });

  it('rejects names that escape or cannot be files', () => {
    for (const bad of [
      '',
      '/etc/passwd',
      'C:/x',
      '../x',
      'a/../../x',
      'a/..',
      'a\u0000b',
      'a\\b',
      'a//b',
      './a',
      'a/',
    ]) {
      expect(() => validateArtifactName(bad, 'artifacts/0/name')).toThrow(ValidationError);
    }
  });
});

describe('parseStoredRun', () => {
  it('reads a record and refuses one without its identity', () => {
    expect(parseStoredRun('{"job":"j","build":"1","run_id":"r","stage":null}', 'x').job).toBe('j');
    expect(() => parseStoredRun('{"job":"j"}', 'x')).toThrow(CorruptedFileError);
    expect(() => parseStoredRun('not json', 'x')).toThrow(CorruptedFileError);
  });
});
