/**
 * The token of a Jupyter server nbstage starts is on no command line (any local user reads those
 * with `ps`), neither the server's nor a kernel's, and its kernels do not inherit it in their
 * environment; the server still refuses a request without it.
 */
import fs from 'node:fs';
import { LocalJupyterServer } from '../../../kernels/jupyter-server';
import { jupyterRequest, JupyterRestError } from '../../../kernels/jupyter-rest';
import { KernelClient } from '../../../kernels/kernel-client';
import { commandLine, descendants } from '../../helpers/processes';

describe('the token of a Jupyter server nbstage starts', () => {
  let server: LocalJupyterServer;
  beforeAll(async () => {
    server = await LocalJupyterServer.start();
  }, 60_000);
  afterAll(async () => {
    await server.close();
  });

  it('is on no command line and in no kernel environment, and still guards the server', async () => {
    const { token } = server.endpoint;
    const kernel = await KernelClient.start(server.endpoint, 'python3');
    try {
      const tree = descendants(process.pid);
      const lines = tree.map(commandLine);
      expect(lines.join('\n')).toMatch(/nbstage_owned[\s\S]*ipykernel_launcher/);
      expect(lines.filter((l) => l.includes(token) || /token=/.test(l))).toEqual([]);
      const kernelPid = tree.find((pid) => / -m ipykernel_launcher /.test(commandLine(pid)));
      const environ = fs.readFileSync(`/proc/${kernelPid ?? 0}/environ`, 'utf8');
      expect(environ).not.toContain(token);
      const refused = await jupyterRequest(
        { ...server.endpoint, token: 'wrong' },
        'GET',
        'api/kernels',
      ).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(JupyterRestError);
      expect((refused as JupyterRestError).httpStatus).toBe(403);
    } finally {
      await kernel.shutdown();
    }
  });
});
