/**
 * `nbstage session close <id>`: ends a session on the service (the `nbstageClose` step): once the
 * session's runs are done, the worker holding its kernel shuts it down.
 */
import { ExitCode } from '../pipelines/errors';
import { NbstageClient } from '../client/api-client';
import { serviceOf } from './service-target';

/** Flags of `nbstage session close`. */
export interface SessionCloseFlags {
  server?: string;
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
  const { url, token } = serviceOf(flags.server, io.env);
  const closed = await new NbstageClient(url, token).closeSession(session);
  io.stderr.write(`nbstage: session ${session} ${closed ? 'closed' : 'closing'}\n`);
  return ExitCode.ok;
}
