/**
 * Which nbstage service a client command talks to: `--server URL`, else NBSTAGE_URL, with the
 * token in NBSTAGE_TOKEN (`nbstage submit`, `fetch`, `session close`).
 */
import { UsageError } from '../pipelines/errors';

/** The service URL and token, from the flags and the environment. */
export function serviceOf(
  server: string | undefined,
  env: NodeJS.ProcessEnv,
): { url: string; token: string } {
  const url = server ?? (env.NBSTAGE_URL || undefined);
  if (url === undefined) {
    throw new UsageError('the nbstage service is needed: give --server URL or set NBSTAGE_URL');
  }
  const token = env.NBSTAGE_TOKEN ?? '';
  if (token === '') {
    throw new UsageError('--server needs a token in NBSTAGE_TOKEN');
  }
  return { url, token };
}
