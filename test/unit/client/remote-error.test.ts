/** The API client gives an error the service sent the exit code the catalogue has for its code. */
import { remoteError } from '../../../client/api-client';
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
