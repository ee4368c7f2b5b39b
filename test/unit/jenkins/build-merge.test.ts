/**
 * The merged history of a job: versions and Jenkins builds joined by build number, newest
 * first; Jenkins builds without a version appear with `commit: null` and Jenkins' state.
 */
import type { JenkinsBuild } from '../../../jenkins-plugin-bridge/rest/jenkins-api';
import { jobNameProblem, itemPath } from '../../../jenkins-plugin-bridge/rest/job-name';
import { mergeBuilds } from '../../../server/jobs/build-merge';
import type { BuildVersion } from '../../../server/store/types';

const version = (build: string, jenkinsUrl: string | null = null): BuildVersion => ({
  build,
  commit: `c${build}`,
  tag: `job/${build}`,
  status: 'completed',
  time: '2026-01-01T00:00:00.000Z',
  duration: 2,
  stages: [],
  metrics: {},
  checksPassed: null,
  runIds: [`r${build}`],
  jenkinsUrl,
  commits: [`c${build}`],
});

const jenkins = (
  number: number,
  result: JenkinsBuild['result'],
  building = false,
): JenkinsBuild => ({
  number,
  url: `http://j/job/x/${number}/`,
  building,
  result,
  duration: building ? 0 : 4000,
  timestamp: Date.UTC(2026, 0, number),
  description: null,
});

describe('mergeBuilds', () => {
  it('joins by number, keeps both sides, newest first', () => {
    const merged = mergeBuilds(
      [version('1'), version('2', 'http://given/2/'), version('10')],
      [
        jenkins(11, null, true),
        jenkins(2, 'FAILURE'),
        jenkins(1, 'SUCCESS'),
        jenkins(3, 'ABORTED'),
      ],
    );
    expect(merged.map((b) => [b.build, b.commit, b.status, b.jenkins?.result ?? null])).toEqual([
      ['11', null, 'running', null],
      ['10', 'c10', 'completed', null],
      ['3', null, 'aborted', 'ABORTED'],
      ['2', 'c2', 'completed', 'FAILURE'],
      ['1', 'c1', 'completed', 'SUCCESS'],
    ]);
    // The URL the version recorded wins; else Jenkins'.
    expect(merged[3].jenkinsUrl).toBe('http://given/2/');
    expect(merged[4].jenkinsUrl).toBe('http://j/job/x/1/');
    expect(merged[2]).toMatchObject({ tag: null, duration: 4, runIds: [], commits: [] });
    expect(merged[4].jenkins).toEqual({
      number: 1,
      result: 'SUCCESS',
      url: 'http://j/job/x/1/',
      duration: 4000,
      building: false,
      timestamp: Date.UTC(2026, 0, 1),
    });
  });

  it('without Jenkins, the versions with jenkins: null', () => {
    expect(mergeBuilds([version('1')], null)).toEqual([{ ...version('1'), jenkins: null }]);
  });
});

describe('job names', () => {
  it('accepts folders and spaces, refuses what Jenkins refuses', () => {
    expect(jobNameProblem('team a/ml/train it')).toBeNull();
    for (const bad of [
      '',
      'a//b',
      '/a',
      'a/',
      'a/../b',
      'a/./b',
      ' a',
      'a:b',
      'a?',
      'a\nb',
      'x'.repeat(1001),
    ]) {
      expect(jobNameProblem(bad)).not.toBeNull();
    }
    expect(itemPath('team a/ml#/x')).toBe('/job/team%20a/job/ml%23/job/x');
    expect(itemPath('')).toBe('');
  });
});
