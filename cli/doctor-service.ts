/**
 * The nbstage service `nbstage doctor` checks when `NBSTAGE_URL` (and `NBSTAGE_TOKEN`) are set:
 * whether its health endpoint answers.
 */
import type { DoctorCheck } from './doctor-report';

const HEALTH_TIMEOUT_MS = 2_000;

/** The rows for the service the environment names (none when it names none). */
export async function checkService(env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const rawUrl = env.NBSTAGE_URL?.trim() ?? '';
  const token = env.NBSTAGE_TOKEN ?? '';
  const checks: DoctorCheck[] = [];
  if (rawUrl !== '') {
    checks.push(await checkHealth(rawUrl));
  }
  if (token !== '') {
    checks.push({ name: 'NBSTAGE_TOKEN', status: 'ok', value: 'set (not shown)' });
  } else if (rawUrl !== '') {
    checks.push({
      name: 'NBSTAGE_TOKEN',
      status: 'optional',
      value: 'not set: the service refuses every request but /healthz',
      fix: 'export NBSTAGE_TOKEN=<token> (nbstage token create --role run, on the service)',
    });
  }
  return checks;
}

async function checkHealth(rawUrl: string): Promise<DoctorCheck> {
  const name = 'NBSTAGE_URL';
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return {
      name,
      status: 'missing',
      value: 'not a URL',
      fix: 'set NBSTAGE_URL to the service, e.g. http://host:8080',
    };
  }
  // Credentials in the URL are neither sent nor printed.
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  const shown = url.toString().replace(/\/$/, '');
  url.pathname = `${url.pathname.replace(/\/$/, '')}/healthz`;
  const health = url.toString();
  try {
    const response = await fetch(health, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    await response.body?.cancel();
    if (response.ok) {
      return { name, status: 'ok', value: `${shown} (healthz: HTTP ${response.status})` };
    }
    return {
      name,
      status: 'missing',
      value: `${health} answered HTTP ${response.status}`,
      fix: 'check that NBSTAGE_URL is the nbstage service (nbstage serve) and that it is healthy',
    };
  } catch (err) {
    // fetch wraps network errors ("fetch failed") around the real one, kept in `cause`.
    const reason =
      errorField(err, 'name') === 'TimeoutError'
        ? `no answer within ${HEALTH_TIMEOUT_MS / 1000} s`
        : (errorField(errorCause(err), 'message') ?? errorField(err, 'message') ?? String(err));
    return {
      name,
      status: 'missing',
      value: `cannot reach ${health}: ${reason}`,
      fix: 'start the service (nbstage serve), fix NBSTAGE_URL, or unset it to run embedded',
    };
  }
}

/**
 * A string property of a thrown value. Not `instanceof Error`: errors from another realm (a
 * DOMException from fetch under jest's sandbox, for one) are not instances of this realm's Error.
 */
function errorField(err: unknown, field: 'name' | 'message'): string | undefined {
  if (typeof err === 'object' && err !== null && field in err) {
    const value = (err as Record<string, unknown>)[field];
    return typeof value === 'string' && value !== '' ? value : undefined;
  }
  return undefined;
}

function errorCause(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
}
