/**
 * The service's credentials, from the environment or from files (`NAME_FILE`, as container
 * secrets are mounted), read once at start and then taken out of this process's environment, so
 * that nothing it starts (kernels, Jupyter servers, git) inherits them. A file keeps the value out
 * of `/proc/<pid>/environ` altogether, which removing a variable later cannot do.
 */
import fs from 'node:fs';
import { UsageError } from '../pipelines/errors';

/** The variables that hold the service's and the worker's credentials. */
export const CREDENTIAL_VARIABLES = [
  'NBSTAGE_ADMIN_TOKEN',
  'NBSTAGE_JENKINS_TOKEN',
  'NBSTAGE_SECRET_KEY',
  // A worker's token for the service's content store (workspaces), role run.
  'NBSTAGE_TOKEN',
] as const;

/** One of {@link CREDENTIAL_VARIABLES}. */
export type CredentialName = (typeof CREDENTIAL_VARIABLES)[number];

/**
 * `NAME` from `env`, else the content of the file `NAME_FILE` names (one trailing newline
 * dropped); undefined when neither is set.
 * @throws UsageError when both are set, or the file cannot be read
 */
export function readCredential(env: NodeJS.ProcessEnv, name: CredentialName): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = file !== undefined && file !== '';
  if (hasDirect && hasFile) {
    throw new UsageError(`set ${name} or ${name}_FILE, not both`);
  }
  if (!hasFile) {
    return hasDirect ? direct : undefined;
  }
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(`${name}_FILE=${file}: ${(err as NodeJS.ErrnoException).message}`);
  }
}

/**
 * Reads every credential of `env` and removes them (and their `_FILE` variables) from `env`
 * and from this process's environment.
 */
export function takeCredentials(env: NodeJS.ProcessEnv): Partial<Record<CredentialName, string>> {
  const found: Partial<Record<CredentialName, string>> = {};
  for (const name of CREDENTIAL_VARIABLES) {
    const value = readCredential(env, name);
    if (value !== undefined) {
      found[name] = value;
    }
  }
  for (const name of CREDENTIAL_VARIABLES) {
    delete env[name];
    delete env[`${name}_FILE`];
  }
  return found;
}
