/**
 * The baseline of a run that names a version of its job (`last-success`, a build), found in the
 * service's store before the run is queued, so the worker that checks the run needs no store:
 * `last-success` is the newest build whose runs all completed and whose checks did not fail (a
 * build that regressed is never the baseline of the next one). A job without such a build has
 * no baseline, and says why; a build that is not there is bad input.
 */
import { NotFoundError, ValidationError } from '../../pipelines/errors';
import type { JSONObject } from '../../pipelines/notebook/model';
import type { VersionStore } from '../store/types';
import type { ResolvedBaseline } from './run-request';

/** The baseline `spec` names in the store for `job`; null for `stored` (the worker's own). */
export async function baselineFromStore(
  store: VersionStore,
  job: string,
  spec: string | undefined,
): Promise<ResolvedBaseline | null> {
  if (spec === undefined || spec === 'stored') {
    return null;
  }
  if (spec === 'last-success') {
    const builds = await store.listBuilds(job).catch((err: unknown) => {
      if (err instanceof NotFoundError) {
        return [];
      }
      throw err;
    });
    const good = builds.find((b) => b.status === 'completed' && b.checksPassed !== false);
    if (good === undefined) {
      return {
        none: `job ${JSON.stringify(job)} has no build that completed with its checks passed yet`,
      };
    }
    const shown = await store.show(job, good.build);
    return {
      notebook: shown.notebook as unknown as JSONObject,
      label: `build ${good.build} (last success)`,
    };
  }
  try {
    const shown = await store.show(job, spec);
    return { notebook: shown.notebook as unknown as JSONObject, label: `build ${spec}` };
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw new ValidationError(
        'body.baseline',
        `body.baseline: job ${JSON.stringify(job)} has no build ${JSON.stringify(spec)}`,
      );
    }
    throw err;
  }
}
