/**
 * The environment diff of two reproducibility records: packages added, removed and changed,
 * other fields by dotted path (nested objects, arrays whole), sides that recorded nothing, and
 * what is not a difference (volatile fields, duplicates); the schema the OpenAPI document gives
 * them.
 */
import Ajv from 'ajv';
import type { JSONObject } from '../../../pipelines/notebook/model';
import {
  environmentDiff,
  environmentDiffers,
  environmentDiffLines,
  environmentValueText,
} from '../../../pipelines/environment/diff';
import { ENVIRONMENT_DIFF_SCHEMA } from '../../../pipelines/environment/diff-schema';

/** A record as a Python kernel on a service worker leaves it (packages trimmed). */
function record(overrides: JSONObject = {}): JSONObject {
  return {
    host: 'vm',
    language: 'python',
    language_version: '3.11.7',
    machine: {
      os: { platform: 'linux', release: '6.1', version: '#1 SMP', arch: 'x64' },
      cpu: { model: 'AMD EPYC', count: 2 },
      memory_bytes: 25275973632,
    },
    nbstage_version: '0.1.0',
    kernelspec: {
      name: 'python3',
      language: 'python',
      argv: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
    },
    python: {
      version: '3.11.7',
      implementation: 'CPython',
      executable: 'venv/bin/python',
      prefix: 'venv',
    },
    os: { system: 'Linux', release: '6.1', machine: 'x86_64' },
    libc: 'glibc 2.36',
    packages: { anyio: '4.16.0', numpy: '1.26.4', six: '1.16.0', torch: '2.3.0' },
    frameworks: { torch: '2.3.0' },
    conda: null,
    git: { commit: '1ac1', dirty: false, untracked: 0, branch: 'main' },
    ...overrides,
  };
}

describe('environmentDiff', () => {
  it('finds nothing between two equal records, whatever their key order', () => {
    const a = record();
    const b = Object.fromEntries(Object.entries(record()).reverse());
    const diff = environmentDiff(a, b);
    expect(diff).toEqual({
      packages: { added: [], removed: [], changed: [] },
      changes: [],
      recorded: { a: true, b: true },
    });
    expect(environmentDiffers(diff)).toBe(false);
    expect(environmentDiffLines(diff)).toEqual([]);
  });

  it('lists packages added, removed and changed, each sorted by name', () => {
    const b = record({
      packages: {
        anyio: '4.16.0',
        numpy: '2.0.0',
        pandas: '2.2.0',
        aiohttp: '3.9.0',
        torch: '2.3.0',
      },
    });
    const diff = environmentDiff(record(), b);
    expect(diff.packages).toEqual({
      added: [
        { name: 'aiohttp', from: null, to: '3.9.0' },
        { name: 'pandas', from: null, to: '2.2.0' },
      ],
      removed: [{ name: 'six', from: '1.16.0', to: null }],
      changed: [{ name: 'numpy', from: '1.26.4', to: '2.0.0' }],
    });
    expect(diff.changes).toEqual([]);
    expect(environmentDiffers(diff)).toBe(true);
    expect(environmentDiffLines(diff)).toEqual([
      'packages: 2 added, 1 removed, 1 changed',
      '+ aiohttp 3.9.0',
      '+ pandas 2.2.0',
      '- six 1.16.0',
      '~ numpy 1.26.4 → 2.0.0',
    ]);
  });

  it('names only the kinds of package change there are', () => {
    const b = record({ packages: { ...(record().packages as JSONObject), numpy: '2.0.0' } });
    expect(environmentDiffLines(environmentDiff(record(), b))).toEqual([
      'packages: 1 changed',
      '~ numpy 1.26.4 → 2.0.0',
    ]);
  });

  it('lists nested fields by dotted path, sorted, from A to B', () => {
    const b = record({
      host: 'gpu-box',
      machine: {
        os: { platform: 'linux', release: '6.1', version: '#2 SMP', arch: 'x64' },
        cpu: { model: 'Intel Xeon', count: 2 },
        memory_bytes: 25275973632,
      },
      python: {
        version: '3.12.1',
        implementation: 'CPython',
        executable: 'venv/bin/python',
        prefix: 'venv',
      },
      language_version: '3.12.1',
      git: { commit: '2bd2', dirty: true, untracked: 0, branch: 'main' },
    });
    const diff = environmentDiff(record(), b);
    expect(diff.changes).toEqual([
      { field: 'git.commit', from: '1ac1', to: '2bd2' },
      { field: 'git.dirty', from: false, to: true },
      { field: 'host', from: 'vm', to: 'gpu-box' },
      { field: 'machine.cpu.model', from: 'AMD EPYC', to: 'Intel Xeon' },
      { field: 'machine.os.version', from: '#1 SMP', to: '#2 SMP' },
      { field: 'python.version', from: '3.11.7', to: '3.12.1' },
    ]);
    expect(environmentDiffLines(diff)).toEqual([
      'git.commit: 1ac1 → 2bd2',
      'git.dirty: false → true',
      'host: vm → gpu-box',
      'machine.cpu.model: AMD EPYC → Intel Xeon',
      'machine.os.version: #1 SMP → #2 SMP',
      'python.version: 3.11.7 → 3.12.1',
    ]);
  });

  it('keeps language_version when it is not what python.version says', () => {
    const diff = environmentDiff(
      record({ language: 'R', language_version: '4.3.0', python: null }),
      record({ language: 'R', language_version: '4.4.1', python: null }),
    );
    expect(diff.changes).toEqual([{ field: 'language_version', from: '4.3.0', to: '4.4.1' }]);
  });

  it('compares arrays whole: the kernelspec argv and the GPUs', () => {
    const gpu = (driver: string, index: number, peak: number): JSONObject => ({
      index,
      uuid: `GPU-${index}`,
      name: 'NVIDIA H200',
      driver,
      memoryTotalMiB: 143771,
      peakMemoryMiB: peak,
    });
    const argv = ['python3.12', '-m', 'ipykernel_launcher', '-f', '{connection_file}'];
    const a = record({ gpus: [gpu('550.54', 0, 1000)] });
    const b = record({
      kernelspec: { name: 'python3', language: 'python', argv },
      gpus: [gpu('555.42', 1, 9000)],
    });
    const diff = environmentDiff(a, b);
    expect(diff.changes).toEqual([
      {
        field: 'gpus',
        from: [{ name: 'NVIDIA H200', driver: '550.54', memoryTotalMiB: 143771 }],
        to: [{ name: 'NVIDIA H200', driver: '555.42', memoryTotalMiB: 143771 }],
      },
      {
        field: 'kernelspec.argv',
        from: ['python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        to: argv,
      },
    ]);
    expect(environmentDiffLines(diff)[1]).toBe(
      'kernelspec.argv: ["python","-m","ipykernel_launcher","-f","{connection_file}"] → ' +
        '["python3.12","-m","ipykernel_launcher","-f","{connection_file}"]',
    );
    // Another device of the same model, another peak: the same environment.
    const other = environmentDiff(a, record({ gpus: [gpu('550.54', 3, 7000)] }));
    expect(other.changes).toEqual([]);
    // A run with GPUs against one without.
    const none = environmentDiff(record(), a);
    expect(none.changes.map((c) => [c.field, c.from])).toEqual([['gpus', null]]);
  });

  it('does not count the untracked files of the workspace, but counts its branch', () => {
    const untracked = record({
      git: { commit: '1ac1', dirty: false, untracked: 7, branch: 'main' },
    });
    expect(environmentDiff(record(), untracked).changes).toEqual([]);
    const branch = record({ git: { commit: '1ac1', dirty: false, untracked: 0, branch: 'dev' } });
    expect(environmentDiff(record(), branch).changes).toEqual([
      { field: 'git.branch', from: 'main', to: 'dev' },
    ]);
    const notACheckout = environmentDiff(record(), record({ git: null }));
    expect(notACheckout.changes).toEqual([
      { field: 'git', from: { commit: '1ac1', dirty: false, branch: 'main' }, to: null },
    ]);
  });

  it('lists a framework once: as a package when the packages carry it', () => {
    const b = record({
      packages: { anyio: '4.16.0', numpy: '1.26.4', six: '1.16.0', torch: '2.4.0' },
      frameworks: { torch: '2.4.0' },
    });
    const diff = environmentDiff(record(), b);
    expect(diff.packages.changed).toEqual([{ name: 'torch', from: '2.3.0', to: '2.4.0' }]);
    expect(diff.changes).toEqual([]);
    // Without packages (another kernel), the framework is the difference.
    const bare = (torch: string): JSONObject => {
      const r = record({ frameworks: { torch } });
      delete r.packages;
      return r;
    };
    expect(environmentDiff(bare('2.3.0'), bare('2.4.0')).changes).toEqual([
      { field: 'frameworks.torch', from: '2.3.0', to: '2.4.0' },
    ]);
  });

  it('takes a missing field as null: no conda is conda null', () => {
    const noConda = record();
    delete noConda.conda;
    expect(environmentDiff(record(), noConda).changes).toEqual([]);
    const conda = record({ conda: { env: 'ml', prefix: 'envs/ml' } });
    expect(environmentDiff(noConda, conda).changes).toEqual([
      { field: 'conda', from: null, to: { env: 'ml', prefix: 'envs/ml' } },
    ]);
  });

  it('does not itemize packages only one side recorded', () => {
    const older = record();
    delete older.packages;
    delete older.frameworks;
    const diff = environmentDiff(older, record());
    expect(diff.packages).toEqual({ added: [], removed: [], changed: [] });
    expect(diff.changes.map((c) => [c.field, c.from])).toEqual([['packages', null]]);
    expect(environmentDiffLines(diff)).toEqual([
      'packages: (none) → {"anyio":"4.16.0","numpy":"1.26.4","six":"1.16.0","torch":"2.3.0"}',
    ]);
  });

  it('says nothing but which side recorded no environment', () => {
    const off = { host: 'vm', language: 'python', language_version: '3.11.7' };
    for (const [a, b, recorded, line] of [
      [undefined, record(), { a: false, b: true }, 'environment: not recorded in build 1'],
      [record(), off, { a: true, b: false }, 'environment: not recorded in build 2'],
      [null, 'odd', { a: false, b: false }, 'environment: not recorded in build 1 and build 2'],
    ] as const) {
      const diff = environmentDiff(a, b);
      expect(diff).toEqual({
        packages: { added: [], removed: [], changed: [] },
        changes: [],
        recorded,
      });
      expect(environmentDiffers(diff)).toBe(false);
      expect(environmentDiffLines(diff, { a: 'build 1', b: 'build 2' })).toEqual([line]);
    }
    expect(environmentDiffLines(environmentDiff(off, off))).toEqual([
      'environment: not recorded in A and B',
    ]);
  });
});

describe('environmentValueText', () => {
  it('shows text as is, null as (none), the rest as JSON cut at 120 characters', () => {
    expect(environmentValueText('glibc 2.36')).toBe('glibc 2.36');
    expect(environmentValueText(null)).toBe('(none)');
    expect(environmentValueText(2)).toBe('2');
    const long = environmentValueText(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(long)).toHaveLength(120);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('ENVIRONMENT_DIFF_SCHEMA', () => {
  it('describes what environmentDiff returns, and refuses what it does not', () => {
    const validate = new Ajv({ strict: true }).compile(ENVIRONMENT_DIFF_SCHEMA);
    const b = record({
      packages: { numpy: '2.0.0', pandas: '2.2.0' },
      kernelspec: { name: 'python3', language: 'python', argv: ['python3.12'] },
      git: null,
    });
    for (const diff of [environmentDiff(record(), b), environmentDiff(undefined, b)]) {
      expect(validate(diff)).toBe(true);
    }
    const diff = environmentDiff(record(), b);
    expect(validate({ ...diff, packages: { ...diff.packages, added: [{ name: 'x' }] } })).toBe(
      false,
    );
    expect(validate({ ...diff, recorded: { a: 'yes', b: true } })).toBe(false);
  });
});
