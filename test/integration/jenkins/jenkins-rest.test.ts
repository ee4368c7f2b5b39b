/**
 * The default JenkinsApi (the npm `jenkins` client) against the Jenkins double over real HTTP:
 * items in the root and in folders with spaces, config.xml round trips, the crumb really
 * required, a build from trigger to result with its progressive console, stop and description,
 * and failures that name what failed without the credentials: a wrong token, an unreachable
 * Jenkins, JSON Jenkins would never send.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  folderConfigXml,
  pipelineJobConfigXml,
} from '../../../jenkins-plugin-bridge/rest/config-xml';
import { NpmJenkinsApi } from '../../../jenkins-plugin-bridge/rest/npm-jenkins-api';
import { JenkinsError, JenkinsUnreachableError } from '../../../pipelines/errors';
import { JenkinsDouble, configParameters } from '../../helpers/jenkins-double';

describe('NpmJenkinsApi against the Jenkins double', () => {
  let double: JenkinsDouble;
  let api: NpmJenkinsApi;

  beforeAll(async () => {
    double = await JenkinsDouble.start();
    double.queueDelayMs = 50;
    api = new NpmJenkinsApi({ url: double.url, user: double.user, token: double.token });
  });
  afterAll(async () => {
    await double.close();
  });

  const config = (script: string, parameters: { name: string; defaultValue: string }[] = []) =>
    pipelineJobConfigXml({
      script,
      description: 'test job',
      parameters: parameters.map((p) => ({ ...p, kind: 'string' as const, description: '' })),
    });

  it('creates jobs in the root and in folders with spaces, and round-trips config.xml', async () => {
    expect(await api.itemExists('root job')).toBe(false);
    await api.createItem('root job', config('echo 1'));
    expect(await api.itemExists('root job')).toBe(true);

    await api.createItem('team a', folderConfigXml('f'));
    await api.createItem('team a/ml x', folderConfigXml('f'));
    await api.createItem('team a/ml x/train it', config('echo <&>'));
    expect(double.items.get('team a/ml x')?.kind).toBe('folder');
    const created = double.requests.find(
      (r) => r.method === 'POST' && r.path === '/job/team%20a/job/ml%20x/createItem',
    );
    expect(created?.query.get('name')).toBe('train it');
    expect(await api.getConfig('team a/ml x/train it')).toContain('echo &lt;&amp;&gt;');

    await api.updateConfig('team a/ml x/train it', config('echo 2'));
    expect(double.items.get('team a/ml x/train it')?.config).toContain('echo 2');
    // Every POST carried a valid crumb, fetched right before it.
    const posts = double.requests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(5);
    expect(posts.every((r) => r.crumbOk)).toBe(true);
  });

  it('answers an existing name with a JenkinsError carrying X-Error', async () => {
    await api.createItem('twice', config('echo'));
    const err = await api.createItem('twice', config('echo')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JenkinsError);
    expect((err as JenkinsError).jenkinsStatus).toBe(400);
    expect((err as Error).message).toMatch(/POST \/createItem: HTTP 400: A job already exists/);
  });

  it('a client without the crumb gets 403 and a message that says so', async () => {
    const noCrumb = new NpmJenkinsApi({
      url: double.url,
      user: double.user,
      token: double.token,
      crumb: false,
    });
    const err = await noCrumb.createItem('no-crumb', config('echo')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JenkinsError);
    expect((err as JenkinsError).jenkinsStatus).toBe(403);
    expect((err as Error).message).toMatch(/CSRF crumb.*No valid crumb was included/);
    expect(double.items.has('no-crumb')).toBe(false);
  });

  it('follows a build: queue item, number after a delay, progressive console, result', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    double.script('build me', {
      run: async (b) => {
        b.log('first line\n');
        await released;
        b.log('second line\n');
        b.finish('UNSTABLE');
      },
    });
    await api.createItem('build me', config('echo', [{ name: 'epochs', defaultValue: '3' }]));
    expect(configParameters(double.items.get('build me')?.config ?? '')).toEqual({ epochs: '3' });
    const id = await api.triggerBuild('build me', { epochs: '5' });
    const waiting = await api.queueItem(id);
    expect(waiting).toMatchObject({ id, cancelled: false, executable: null });
    expect(waiting.why).toMatch(/quiet period/);
    const started = await double.until(() => double.build('build me', 1));
    expect(started.parameters).toEqual({ epochs: '5' });
    expect((await api.queueItem(id)).executable?.number).toBe(1);

    await double.until(() => started.console.includes('first line'));
    const first = await api.console('build me', 1, 0);
    expect(first).toEqual({ text: 'first line\n', size: 11, more: true });
    expect((await api.build('build me', 1)).building).toBe(true);
    release();
    await double.until(() => !started.building);
    const rest = await api.console('build me', 1, first.size);
    expect(rest.text).toBe('second line\nFinished: UNSTABLE\n');
    expect(rest.more).toBe(false);
    expect(await api.build('build me', 1)).toMatchObject({
      number: 1,
      building: false,
      result: 'UNSTABLE',
    });

    await api.setBuildDescription('build me', 1, '<a href="http://x/y">v</a>');
    expect(started.description).toBe('<a href="http://x/y">v</a>');
    const list = await api.builds('build me');
    expect(list?.map((b) => [b.number, b.result])).toEqual([[1, 'UNSTABLE']]);
    expect(await api.builds('no such job')).toBeNull();
  });

  it('cancels a waiting queue item and stops a running build', async () => {
    double.script('cancel me', { queue: () => undefined });
    await api.createItem('cancel me', config('echo'));
    const id = await api.triggerBuild('cancel me', null);
    await api.cancelQueueItem(id);
    expect(await api.queueItem(id)).toMatchObject({ cancelled: true, executable: null });

    double.script('stop me', { run: (b) => b.log('running\n') });
    await api.createItem('stop me', config('echo'));
    await api.triggerBuild('stop me', null);
    const build = await double.until(() => double.build('stop me', 1));
    await api.stopBuild('stop me', 1);
    await double.until(() => build.result === 'ABORTED');
    expect((await api.build('stop me', 1)).result).toBe('ABORTED');
  });

  it('a wrong token is a 401 JenkinsError that names the settings, not the token', async () => {
    const wrong = new NpmJenkinsApi({ url: double.url, user: double.user, token: 'not-it-123' });
    const err = await wrong.itemExists('root job').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JenkinsError);
    expect((err as Error).message).toMatch(/HTTP 401.*NBSTAGE_JENKINS_TOKEN/);
    expect((err as Error).message).not.toContain('not-it-123');
  });

  it('an unreachable Jenkins is JenkinsUnreachableError', async () => {
    const gone = await JenkinsDouble.start();
    await gone.close();
    const client = new NpmJenkinsApi({ url: gone.url, user: 'u', token: 'secret-token-1' });
    const err = await client.queueItem(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JenkinsUnreachableError);
    expect((err as Error).message).toMatch(/cannot reach Jenkins at .*ECONNREFUSED/);
    expect((err as Error).message).not.toContain('secret-token-1');
  });

  it('refuses JSON Jenkins would never send, naming the field', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: 3, executable: { number: 'seven' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const client = new NpmJenkinsApi({ url: `http://127.0.0.1:${port}` });
      const err = await client.queueItem(3).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JenkinsError);
      expect((err as Error).message).toMatch(/unexpected JSON: \/executable/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
