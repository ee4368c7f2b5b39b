/**
 * What the service queues for a run with secrets: the secrets sealed, the parameters sealed too
 * when a value holds a secret, the Jenkins build masked; a worker with the key opens them again.
 */
import type { Principal } from '../../../server/auth/types';
import type { RunJobPayload, RunQueue } from '../../../server/queue/types';
import { RunManager } from '../../../server/runs/run-manager';
import { openSecrets, openValue, secretKey } from '../../../server/runs/secret-box';
import type { VersionStore } from '../../../server/store/types';
import { MASK } from '../../../pipelines/secrets/mask';
import type { JSONObject } from '../../../pipelines/notebook/model';
import { cleanupDirs, makeNotebook, tempDir } from '../../helpers/notebooks';

const SECRET = 'Qu8-s3cr3t-value';
const principal: Principal = { id: 'abcdefabcdef', name: 'test-user', role: 'run' };

/** A queue that keeps what it is given and does nothing with it. */
function keepingQueue(): { queue: RunQueue; payloads: RunJobPayload[] } {
  const payloads: RunJobPayload[] = [];
  const queue: RunQueue = {
    enqueue: async (payload) => {
      payloads.push(payload);
      return { runId: payload.runId, state: 'queued', enqueuedAt: new Date().toISOString() };
    },
    get: async () => null,
    cancel: async () => false,
    depth: async () => ({ queued: payloads.length, active: 0 }),
    workers: async () => [],
    onEvent: () => () => undefined,
    close: async () => undefined,
  };
  return { queue, payloads };
}

describe('a queued run with secrets', () => {
  afterAll(cleanupDirs);

  const create = async (parameters: JSONObject): Promise<JSONObject> => {
    const { queue, payloads } = keepingQueue();
    const key = secretKey('test-passphrase');
    const runs = new RunManager({
      home: tempDir(),
      queue,
      store: {} as unknown as VersionStore,
      secretKey: key,
    });
    await runs.create(
      {
        notebook: makeNotebook(['x = 1']) as unknown as JSONObject,
        job: 'team/job',
        secrets: { API_KEY: SECRET },
        parameters,
        jenkins: { buildTag: `jenkins-${SECRET}-1` },
      },
      principal,
    );
    runs.close();
    expect(payloads).toHaveLength(1);
    return payloads[0].spec;
  };

  it('seals the parameters when a value holds a secret, and masks the Jenkins build', async () => {
    const spec = await create({ token: SECRET, n: 1 });
    expect(JSON.stringify(spec).includes(SECRET)).toBe(false);
    const request = spec.request as JSONObject;
    expect(request.parameters).toBeUndefined();
    expect(request.jenkins).toEqual({ buildTag: `jenkins-${MASK}-1` });
    const key = secretKey('test-passphrase');
    expect(openSecrets(spec.sealedSecrets as JSONObject, key)).toEqual({ API_KEY: SECRET });
    expect(openValue(spec.sealedParameters as JSONObject, key)).toEqual({ token: SECRET, n: 1 });
  });

  it('leaves parameters that hold no secret in the request', async () => {
    const spec = await create({ n: 1 });
    expect((spec.request as JSONObject).parameters).toEqual({ n: 1 });
    expect(spec.sealedParameters).toBeUndefined();
  });
});
