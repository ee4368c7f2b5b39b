/**
 * The runner on a fake kernel source: every kernel it acquires is released exactly once, whether
 * the run ends, fails before a cell is sent, or cannot get all its kernels.
 */
import { ParameterError, UnreachableError } from '../../../pipelines/errors';
import type { KernelLease, KernelSource } from '../../../pipelines/kernel-source';
import { executeRun, loadRun } from '../../../pipelines/runner';
import { cleanupDirs, makeNotebook, writeNotebook } from '../../helpers/notebooks';
import { FakeKernel, type CellScript } from './executor/fake-kernel';

/** A kernel source handing out fake kernels; records acquires and releases. */
class FakeSource implements KernelSource {
  readonly kernels: FakeKernel[] = [];
  readonly released: { name: string; keep: boolean }[] = [];

  constructor(
    private readonly options: {
      script?: Record<string, CellScript>;
      language?: string;
      failOn?: string;
    } = {},
  ) {}

  async kernelSpecs(): Promise<{
    default: string;
    specs: { name: string; displayName: string; language: string }[];
  }> {
    const language = this.options.language ?? 'python';
    return {
      default: 'python3',
      specs: [
        { name: 'python3', displayName: 'Python 3', language },
        { name: 'other', displayName: 'Other', language },
      ],
    };
  }

  async acquire(name: string): Promise<KernelLease> {
    if (name === this.options.failOn) {
      throw new UnreachableError(`no kernel ${name}`);
    }
    const kernel = new FakeKernel(name, this.options.script, this.options.language);
    this.kernels.push(kernel);
    return { kernel, fresh: true, staleEnv: false };
  }

  async release(lease: KernelLease, keep: boolean): Promise<void> {
    this.released.push({ name: lease.kernel.name, keep });
  }
}

afterAll(cleanupDirs);

describe('executeRun releases every kernel it acquired', () => {
  test('after a run that completed, keeping them', async () => {
    const run = await loadRun({ notebookPath: writeNotebook(makeNotebook(['x = 1', 'y = 2'])) });
    const source = new FakeSource();
    const result = await executeRun(run, source);
    expect(result.status).toBe('completed');
    expect(source.released).toEqual([{ name: 'python3', keep: true }]);
  });

  test('after a kernel death, not keeping them', async () => {
    const run = await loadRun({ notebookPath: writeNotebook(makeNotebook(['x = 1', 'boom'])) });
    const source = new FakeSource({ script: { boom: { dieWith: 'dead' } } });
    const result = await executeRun(run, source);
    expect(result.status).toBe('kernel_died');
    expect(source.released).toEqual([{ name: 'python3', keep: false }]);
  });

  test('when the setup code fails with a ParameterError after the kernels were acquired', async () => {
    const run = await loadRun({
      notebookPath: writeNotebook(makeNotebook(['x = 1'])),
      secrets: { TOKEN: 'a\0b' },
    });
    const source = new FakeSource();
    await expect(executeRun(run, source)).rejects.toBeInstanceOf(ParameterError);
    expect(source.kernels).toHaveLength(1);
    expect(source.kernels[0].log.some((l) => l.startsWith('send'))).toBe(false);
    expect(source.released).toEqual([{ name: 'python3', keep: true }]);
  });

  test('when a later kernel cannot be acquired, giving back the ones it had', async () => {
    const nb = makeNotebook(['x = 1', { source: 'y', metadata: { nbstage: { kernel: 'other' } } }]);
    const run = await loadRun({ notebookPath: writeNotebook(nb) });
    const source = new FakeSource({ failOn: 'other' });
    await expect(executeRun(run, source)).rejects.toBeInstanceOf(UnreachableError);
    expect(source.released).toEqual([{ name: 'python3', keep: true }]);
  });
});
