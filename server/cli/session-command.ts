/**
 * `nbstage session close <id>`: ends a session on the service (the `nbstageClose` step): once the
 * session's runs are done, the worker holding its kernel shuts it down.
 */
import { ExitCode, UsageError } from '../../pipelines/errors';
import { NbstageClient } from '../client/api-client';

/** Flags of `nbstage session close`. */
export interface SessionCloseFlags {
  server?: string;
}

/** A client of the service named by `--server` or NBSTAGE_URL, with the token in NBSTAGE_TOKEN. */
export function serviceClient(server: string | undefined, env: NodeJS.ProcessEnv): NbstageClient {
  const url = server ?? (env.NBSTAGE_URL || undefined);
  if (url === undefined) {
    throw new UsageError('no service: pass --server URL or set NBSTAGE_URL');
  }
  const token = env.NBSTAGE_TOKEN ?? '';
  if (token === '') {
    throw new UsageError('the service needs a token in NBSTAGE_TOKEN');
  }
  return new NbstageClient(url, token);
}

/** Closes the session; resolves to the exit code. */
export async function sessionCloseCommand(
  session: string,
  flags: SessionCloseFlags,
  io: { stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv } = {
    stderr: process.stderr,
    env: process.env,
  },
): Promise<number> {
  const closed = await serviceClient(flags.server, io.env).closeSession(session);
  io.stderr.write(`nbstage: session ${session} ${closed ? 'closed' : 'closing'}\n`);
  return ExitCode.ok;
}
