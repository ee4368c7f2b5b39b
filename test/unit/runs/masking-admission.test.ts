/**
 * Secrets in what the service records about a run it admits: a run whose names (job, build,
 * session, stages, labels, kernel) hold a secret is refused, naming the field and the secret but
 * never its value; parameter values, the notebook's name and the Jenkins build are kept masked.
 */
import { ValidationError } from '../../../pipelines/errors';
import { MASK } from '../../../pipelines/secrets/mask';
import type { Principal } from '../../../server/auth/types';
import { admitRun } from '../../../server/runs/run-admission';
import { checkNamesHoldNoSecret } from '../../../server/runs/run-checks';
import type { RunRequest } from '../../../server/runs/run-request';
import { makeNotebook } from '../../helpers/notebooks';

const SECRET = 'Qx4-s3cr3t';
const principal: Principal = { id: 'abcdefabcdef', name: 'test-user', role: 'run' };

function request(fields: Partial<RunRequest> = {}): RunRequest {
  const nb = makeNotebook([{ source: 'x = 1', tags: ['stage:train'] }]);
  return {
    notebook: nb as unknown as RunRequest['notebook'],
    notebookName: 'nb.ipynb',
    secrets: { API_KEY: SECRET },
    ...fields,
  };
}

/** Reversed, so that a failing expectation never prints the secret as it is. */
function reversed(text: string): string {
  return [...text].reverse().join('');
}

describe('a run whose names hold a secret', () => {
  it.each([
    ['body.job', { job: `team/${SECRET}` }],
    ['body.build', { build: SECRET }],
    ['body.session', { session: `jenkins-${SECRET}-1` }],
    ['body.kernel', { kernel: SECRET }],
    ['body.stages.0', { stages: [SECRET] }],
    ['body.labels.0', { labels: [SECRET] }],
    ['body.notebookName', { notebookName: `${SECRET}.ipynb` }],
  ])('is refused on %s, naming the secret, not its value', async (field, fields) => {
    const refused = await admitRun(request(fields), principal, {}).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ValidationError);
    const error = refused as ValidationError;
    expect(error.field).toBe(field);
    expect(error.message).toContain(`${field}: holds the value of secret API_KEY`);
    expect(reversed(error.message)).not.toContain(reversed(SECRET));
  });

  it('is refused for an escaped form of the secret too, and for any of several secrets', () => {
    expect(() =>
      checkNamesHoldNoSecret({ job: encodeURIComponent('a b@c') }, { A: 'x-unused', B: 'a b@c' }),
    ).toThrow('body.job: holds the value of secret B');
  });

  it('is admitted when only the notebook name holds it and the job is named: the name is masked', async () => {
    const { record } = await admitRun(
      request({ job: 'team/job', notebookName: `${SECRET}.ipynb` }),
      principal,
      {},
    );
    expect(record.notebookName).toBe(`${MASK}.ipynb`);
  });
});

describe('the record of an admitted run', () => {
  it('keeps parameter values and the Jenkins build masked, the secret names as they are', async () => {
    const { record } = await admitRun(
      request({
        job: 'team/job',
        parameters: { token: SECRET, url: `https://u:${encodeURIComponent(SECRET)}@h/`, n: 3 },
        jenkins: { buildUrl: `https://ci/job/${SECRET}/1/`, buildTag: `jenkins-${SECRET}-1` },
      }),
      principal,
      {},
    );
    expect(record.parameters).toEqual({ token: MASK, url: `https://u:${MASK}@h/`, n: 3 });
    expect(record.jenkins).toEqual({
      buildUrl: `https://ci/job/${MASK}/1/`,
      buildTag: `jenkins-${MASK}-1`,
    });
    expect(record.secrets).toEqual(['API_KEY']);
    const text = JSON.stringify(record);
    expect(reversed(text)).not.toContain(reversed(SECRET));
    expect(text.split(MASK)).toHaveLength(5);
  });
});
