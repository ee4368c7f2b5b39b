/**
 * What the service checks about a run before it queues it, beyond the request's schema:
 * everything its version needs (a job and build name the version store can hold), the kernels it
 * will ask for, and that no name it is known by holds one of its secrets. A run that passes can end in any status, but it always ends as one
 * commit; one that does not is refused with a 400 naming the field, and nothing is written.
 */
import { KernelNotFoundError, ValidationError } from '../../pipelines/errors';
import type { Notebook } from '../../pipelines/notebook/model';
import { kernelOfCell } from '../../pipelines/runner';
import { Masker } from '../../pipelines/secrets/mask';
import { validateBuildName, validateJobName } from '../store/ref-names';

/**
 * The kernelspec names every worker that may take a run offers, or null when the service
 * cannot know (workers on other hosts, through Redis, each with its own kernelspecs).
 */
export type KnownKernels = () => Promise<string[] | null>;

/**
 * Checks the job and build a run is versioned under.
 *
 * @throws ValidationError on `body.job` or `body.build`
 */
export function checkVersionTarget(job: string, build: string): void {
  validateJobName(job, 'body.job');
  validateBuildName(build, 'body.build');
}

/**
 * Checks that every kernel a run needs is offered: the requested `kernel` (else the notebook's
 * kernelspec), and any kernel named by one of the cells that will run
 * (`metadata.nbstage.kernel`). A notebook naming no kernel gets the workers' default.
 *
 * @param cells - the indexes of the cells that will run
 * @param known - the kernels offered, or null when unknown (nothing is checked then)
 * @throws KernelNotFoundError (400) naming the field and the kernels offered
 */
export function checkKernels(
  nb: Notebook,
  requested: string | undefined,
  cells: number[],
  known: string[] | null,
): void {
  if (known === null) {
    return;
  }
  const main = requested ?? nb.metadata.kernelspec?.name;
  const needed = new Map<string, string>();
  if (main !== undefined && main !== '') {
    needed.set(
      main,
      requested !== undefined ? 'body.kernel' : 'body.notebook.metadata.kernelspec.name',
    );
  }
  for (const index of cells) {
    const name = kernelOfCell(nb, index, main ?? '');
    if (name !== '' && !needed.has(name)) {
      needed.set(name, `body.notebook.cells.${index}.metadata.nbstage.kernel`);
    }
  }
  for (const [name, field] of needed) {
    if (!known.includes(name)) {
      throw new KernelNotFoundError(
        `${field}: unknown kernel ${JSON.stringify(name)} (the workers offer: ${
          known.length === 0 ? 'none' : known.join(', ')
        })`,
      );
    }
  }
}

/** The names a run is known by, as a request gives them. */
export interface RunNames {
  /** The notebook's file name, when the job is named after it. */
  notebookName?: string;
  job?: string;
  build?: string;
  session?: string;
  kernel?: string;
  stages?: string[];
  labels?: string[];
}

/**
 * Checks that none of the names a run is known by (job, build, session, kernel, stages, labels,
 * and the notebook's name when the job is named after it) holds the value of one of its secrets. Those names are identifiers that must stay as they are
 * (ref names and tags in the history, the job page, the session's kernel, the worker a run goes
 * to): masked they would no longer name the same thing, and unmasked they would show the secret.
 * So such a run is refused, before anything is written; the message names the field and the
 * secret, never the value.
 *
 * @param secrets - the run's secrets, by name
 * @throws ValidationError (400) on the first field that holds a secret
 */
export function checkNamesHoldNoSecret(names: RunNames, secrets: Record<string, string>): void {
  const fields: [string, string | undefined][] = [
    ['body.notebookName', names.notebookName],
    ['body.job', names.job],
    ['body.build', names.build],
    ['body.session', names.session],
    ['body.kernel', names.kernel],
    ...(names.stages ?? []).map((s, i): [string, string] => [`body.stages.${i}`, s]),
    ...(names.labels ?? []).map((l, i): [string, string] => [`body.labels.${i}`, l]),
  ];
  for (const [secret, value] of Object.entries(secrets)) {
    const masker = new Masker([value]);
    for (const [field, name] of fields) {
      if (name !== undefined && masker.reveals(name)) {
        throw new ValidationError(
          field,
          `${field}: holds the value of secret ${secret}; a run's names are kept and shown as ` +
            'they are (ref names, the history, the job page, logs), so none may hold a secret',
        );
      }
    }
  }
}
