/**
 * A job's history as `GET /api/v1/jobs/:job/builds` shows it: the stored versions merged with
 * the job's Jenkins builds by build number. Every entry keeps the version's fields and gains
 * `jenkins` (the Jenkins build, or null); a Jenkins build without a version yet is an entry with
 * `commit: null`, `tag: null` and Jenkins' state as `status` (`running`, or its result in lower
 * case).
 */
import type { JenkinsBuild } from '../../jenkins-plugin-bridge/rest/jenkins-api';
import { compareBuildsDesc } from '../store/build-summary';
import type { BuildVersion } from '../store/types';

/** The Jenkins side of a merged build. */
export interface JenkinsBuildSummary {
  number: number;
  /** SUCCESS, UNSTABLE, FAILURE, ABORTED, NOT_BUILT; null while building. */
  result: string | null;
  url: string;
  /** Milliseconds (0 while building). */
  duration: number;
  building: boolean;
  /** Start, milliseconds since the epoch. */
  timestamp: number;
}

/** One entry of the merged history. */
export type MergedBuild = Omit<BuildVersion, 'commit' | 'tag'> & {
  commit: string | null;
  tag: string | null;
  jenkins: JenkinsBuildSummary | null;
};

function summary(b: JenkinsBuild): JenkinsBuildSummary {
  return {
    number: b.number,
    result: b.result,
    url: b.url,
    duration: b.duration,
    building: b.building,
    timestamp: b.timestamp,
  };
}

/**
 * Merges stored versions with Jenkins builds (either may be empty), newest first.
 *
 * @param versions - the store's builds of the job
 * @param jenkins - the job's Jenkins builds, or null when Jenkins was not asked
 */
export function mergeBuilds(
  versions: BuildVersion[],
  jenkins: JenkinsBuild[] | null,
): MergedBuild[] {
  const byNumber = new Map((jenkins ?? []).map((b) => [String(b.number), b]));
  const merged: MergedBuild[] = versions.map((v) => {
    const b = byNumber.get(v.build);
    byNumber.delete(v.build);
    return { ...v, jenkinsUrl: v.jenkinsUrl ?? b?.url ?? null, jenkins: b ? summary(b) : null };
  });
  for (const [build, b] of byNumber) {
    merged.push({
      build,
      commit: null,
      tag: null,
      status: b.building ? 'running' : (b.result ?? 'unknown').toLowerCase(),
      time: new Date(b.timestamp).toISOString(),
      duration: b.building ? null : b.duration / 1000,
      stages: [],
      metrics: {},
      checksPassed: null,
      runIds: [],
      jenkinsUrl: b.url,
      commits: [],
      jenkins: summary(b),
    });
  }
  return merged.sort((a, b) => compareBuildsDesc(a.build, b.build));
}
