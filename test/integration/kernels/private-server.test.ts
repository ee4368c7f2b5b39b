/**
 * A private Jupyter server (NBSTAGE_REUSE_SERVER=0, startLocalProvider) that dies under a run:
 * the run ends at once as a kernel death blamed on the server, the partial notebook kept, and
 * the provider refuses further kernels with exit 5 saying why (it is not restarted: its owner,
 * one `nbstage run`, is as short-lived as it).
 */
import { startLocalProvider } from '../../../kernels/jupyter-providers';
import { UnreachableError } from '../../../pipelines/errors';
import { executeRun, loadRun } from '../../../pipelines/runner';
import { makeNotebook, writeNotebook } from '../../helpers/notebooks';
import { commandLine, descendants } from '../../helpers/processes';
import { cleanupDirs } from '../../helpers/temp-dirs';

describe('a private Jupyter server that dies under a run', () => {
  afterAll(() => cleanupDirs());

  it('ends the run kernel_died at once; no more kernels come from it (exit 5)', async () => {
    const provider = await startLocalProvider();
    try {
      const nb = makeNotebook([
        'print("before", flush=True)',
        'import time\nprint("sleeping", flush=True)\ntime.sleep(120)',
      ]);
      const loaded = await loadRun({ notebookPath: writeNotebook(nb) });
      let killedAt = 0;
      const result = await executeRun(loaded, provider, {
        listeners: [
          (event) => {
            if (
              event.type === 'output' &&
              JSON.stringify(event).includes('sleeping') &&
              !killedAt
            ) {
              killedAt = Date.now();
              const server = descendants(process.pid).find((pid) =>
                commandLine(pid).includes('nbstage_owned'),
              );
              process.kill(server ?? 0, 'SIGKILL');
            }
          },
        ],
      });
      expect(killedAt).toBeGreaterThan(0);
      expect(Date.now() - killedAt).toBeLessThan(5000);
      expect(result.status).toBe('kernel_died');
      expect(result.error?.message).toBe(
        'the Jupyter server running kernel python3 died in cell 1',
      );
      expect(JSON.stringify(result.notebook.cells[1])).toContain('sleeping');
      expect(provider.health()).toEqual({
        ready: false,
        reason: 'the local Jupyter server killed by SIGKILL',
      });
      const err = await provider.acquire('python3').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toBe(
        'local Jupyter server is not available: the local Jupyter server killed by SIGKILL',
      );
    } finally {
      await provider.close();
    }
  }, 60000);
});
