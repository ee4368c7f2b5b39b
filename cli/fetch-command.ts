/**
 * `nbstage fetch <job> [-o FILE] [--server URL]`: writes the notebook the service stores for a
 * submitted job (what `nbstage submit` sent). The generated Jenkinsfile's `nbstageFetch` step
 * runs it on the agent before `nbstage run`: a submitted notebook is in no SCM.
 */
import path from 'node:path';
import { ExitCode } from '../pipelines/errors';
import { writeFileAtomic } from '../pipelines/notebook/io';
import { NbstageClient } from '../client/api-client';
import { serviceOf } from './service-target';

/** Flags of `nbstage fetch`. */
export interface FetchFlags {
  output?: string;
  server?: string;
}

/** Fetches the job's source; resolves to the exit code. */
export async function fetchCommand(
  job: string,
  flags: FetchFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { url, token } = serviceOf(flags.server, env);
  const source = await new NbstageClient(url, token).jobSource(job);
  if (flags.output === '-') {
    process.stdout.write(source.content);
    return ExitCode.ok;
  }
  // The stored name comes from the service: only its last part may name a local file.
  const out = flags.output ?? (path.basename(source.name) || 'notebook.ipynb');
  await writeFileAtomic(out, source.content);
  process.stderr.write(`nbstage: wrote ${out} (${source.content.length} bytes)\n`);
  return ExitCode.ok;
}
