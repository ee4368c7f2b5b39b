/**
 * The Jupyter REST module on a real jupyter_server: sessions made, listed, renamed and ended;
 * one error type for every failure, with the HTTP status when the server answered and none when
 * it could not be reached.
 */
import { createServer } from 'node:net';
import {
  JupyterRestError,
  createSession,
  deleteSession,
  jupyterRequest,
  listSessions,
  renameSession,
  serverAnswers,
} from '../../../kernels/jupyter-rest';
import { UnreachableError } from '../../../pipelines/errors';
import { useJupyterServer } from '../../helpers/jupyter';

/** A port nothing listens on (bound, then closed again). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('Jupyter REST calls', () => {
  const server = useJupyterServer();

  it('makes, lists, renames and ends a session', async () => {
    const endpoint = server().endpoint;
    const path = `test-${process.pid}-${Date.now()}/a`;
    const made = await createSession(endpoint, { path, name: 'rest test', kernel: 'bash' });
    try {
      expect(made.kernel.name).toBe('bash');
      expect((await listSessions(endpoint)).map((s) => s.path)).toContain(path);
      await renameSession(endpoint, made.id, `${path}-renamed`);
      const listed = (await listSessions(endpoint)).find((s) => s.id === made.id);
      expect(listed?.path).toBe(`${path}-renamed`);
    } finally {
      await deleteSession(endpoint, made.id);
    }
    expect((await listSessions(endpoint)).map((s) => s.id)).not.toContain(made.id);
  });

  it('an error answer is a JupyterRestError with the status and the request', async () => {
    const err = await jupyterRequest(server().endpoint, 'DELETE', 'api/sessions/no-such-id').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JupyterRestError);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as JupyterRestError).httpStatus).toBe(404);
    expect((err as Error).message).toBe(
      'Jupyter server answered 404 to DELETE /api/sessions/no-such-id',
    );
  });

  it('a server that does not answer is the same error without a status', async () => {
    const endpoint = { baseUrl: `http://127.0.0.1:${await closedPort()}/`, token: 'x' };
    const err = await listSessions(endpoint).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JupyterRestError);
    expect((err as JupyterRestError).httpStatus).toBeNull();
    expect((err as Error).message).toMatch(
      /^cannot reach Jupyter server at http:\/\/127\.0\.0\.1:\d+ \(GET \/api\/sessions\): /,
    );
    expect(await serverAnswers(endpoint)).toBe(false);
    expect(await serverAnswers(server().endpoint)).toBe(true);
    expect(await serverAnswers({ ...server().endpoint, token: 'wrong' })).toBe(false);
  });
});
