/**
 * What the service checks about a run before it queues it, beyond the request's schema:
 * everything its version needs (a job and build name the version store can hold) and the
 * kernels it will ask for. A run that passes can end in any status, but it always ends as one
 * commit; one that does not is refused with a 400 naming the field, and nothing is written.
 */
import { KernelNotFoundError } from '../../pipelines/errors';
import type { Notebook } from '../../pipelines/notebook/model';
import { kernelOfCell } from '../../pipelines/runner';
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
