/** The API client gives an error the service sent the exit code the catalogue has for its code. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NbstageClient, remoteError } from '../../../client/api-client';
import { ERROR_CATALOGUE, ErrorCode, ExitCode } from '../../../pipelines/errors';

describe('remoteError', () => {
  it.each(Object.entries(ERROR_CATALOGUE))('maps %s as the catalogue says', (code, entry) => {
    const err = remoteError(code, 'm', 418);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(entry.exit);
    expect(err.status).toBe(418); // the status the service answered with
  });

  it('exits 5 for a busy store, as an embedded run does', () => {
    expect(remoteError(ErrorCode.storeBusy, 'locked').exitCode).toBe(ExitCode.unreachable);
  });

  it('treats a code it does not know as bad input', () => {
    expect(remoteError('NBSTAGE_FROM_THE_FUTURE', 'm').exitCode).toBe(ExitCode.badInput);
  });
});

describe('a refused run stream', () => {
  it.each([
    [404, ErrorCode.notFound, ExitCode.badInput],
    [429, ErrorCode.rateLimited, ExitCode.unreachable],
    [401, ErrorCode.unauthorized, ExitCode.badInput],
    [503, ErrorCode.unreachable, ExitCode.unreachable],
  ])('HTTP %i is %s (exit %i), with Retry-After in the message', async (status, code, exit) => {
    const server = http.createServer();
    server.on('upgrade', (_req, socket) => {
      socket.end(`HTTP/1.1 ${status} No\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const err = await new NbstageClient(`http://127.0.0.1:${port}`, 't')
        .stream('r1', () => undefined)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code, exitCode: exit, status });
      expect((err as Error).message).toBe(`stream: HTTP ${status} (retry after 7 s)`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
