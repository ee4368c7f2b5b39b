/**
 * One real Jupyter server per test file, started and stopped around the suite; tests that need
 * the CLI point it at this server through NBSTAGE_JUPYTER_URL/NBSTAGE_JUPYTER_TOKEN so that each
 * run does not pay for a server start.
 */
import { LocalJupyterServer } from '../../kernels/jupyter-server';

/** Starts a server before all tests of the file and stops it after. */
export function useJupyterServer(): () => LocalJupyterServer {
  let server: LocalJupyterServer | null = null;
  beforeAll(async () => {
    server = await LocalJupyterServer.start();
  }, 120000);
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (server === null) {
      throw new Error('Jupyter server not started');
    }
    return server;
  };
}
