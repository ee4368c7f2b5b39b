/**
 * `nbstage serve`: the service in the foreground until SIGINT/SIGTERM, which drain it.
 */
import path from 'node:path';
import { parseSandboxBind, parseSandboxMode } from '../kernels/zmq/sandbox';
import { startService } from '../server/service';
import { untilStopSignal } from './stop-signal';

/** Flags of `nbstage serve`. */
export interface ServeFlags {
  port: string;
  host: string;
  home?: string;
  redis?: string;
  workers: string;
  labels?: string;
  sandbox: string;
  sandboxBind: string[];
}

/** Runs the service until a signal; resolves to the exit code. */
export async function serveCommand(flags: ServeFlags, version: string): Promise<number> {
  const service = await startService({
    home: path.resolve(flags.home ?? process.env.NBSTAGE_HOME ?? '.nbstage'),
    port: Number(flags.port),
    host: flags.host,
    redis: flags.redis ?? (process.env.NBSTAGE_REDIS || undefined),
    workers: Number(flags.workers),
    labels: flags.labels === undefined ? undefined : flags.labels.split(',').filter(Boolean),
    sandbox: parseSandboxMode(flags.sandbox),
    sandboxBinds: flags.sandboxBind.map(parseSandboxBind),
    version,
  });
  process.stderr.write(`nbstage: serving on ${service.url}\n`);
  await untilStopSignal();
  process.stderr.write('nbstage: draining\n');
  await service.close();
  return 0;
}
