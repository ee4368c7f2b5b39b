/**
 * What a remote provider sends and keeps for a gateway: the start request's KERNEL_* variables
 * (KERNEL_USERNAME defaulting to the OS user, an explicit one kept) and the session -> kernel id
 * records of a server without a sessions API (one 0600 file per session, per server).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayKernelEnv, noSessionsApi, SessionKernelIndex } from '../../../kernels/gateway';
import { useTempDir } from '../../helpers/temp-dirs';

describe('gatewayKernelEnv', () => {
  it('sends every KERNEL_* variable and nothing else, KERNEL_USERNAME defaulting to the OS user', () => {
    expect(
      gatewayKernelEnv({ KERNEL_FLAVOUR: 'mint', HOME: '/h', NBSTAGE_TOKEN: 't', KERNEL_: 'x' }),
    ).toEqual({ KERNEL_FLAVOUR: 'mint', KERNEL_: 'x', KERNEL_USERNAME: os.userInfo().username });
  });

  it("keeps the caller's KERNEL_USERNAME; an empty one counts as unset", () => {
    expect(gatewayKernelEnv({ KERNEL_USERNAME: 'alice' })).toEqual({ KERNEL_USERNAME: 'alice' });
    expect(gatewayKernelEnv({ KERNEL_USERNAME: '' }).KERNEL_USERNAME).toBe(os.userInfo().username);
  });
});

describe('SessionKernelIndex', () => {
  const dir = useTempDir();

  it('keeps one record per session and server, 0600, and forgets it on delete', () => {
    const a = new SessionKernelIndex(dir(), 'http://gw-a:8888/');
    const b = new SessionKernelIndex(dir(), 'http://gw-b:8888/');
    a.set('s1', { kernelId: 'k1', name: 'python3' });
    expect(a.get('s1')).toMatchObject({ kernelId: 'k1', name: 'python3' });
    expect(a.get('s2')).toBeNull();
    expect(b.get('s1')).toBeNull();
    const files = fs
      .readdirSync(path.join(dir(), 'gateway-sessions'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile());
    expect(files).toHaveLength(1);
    expect(fs.statSync(path.join(files[0].parentPath, files[0].name)).mode & 0o777).toBe(0o600);
    a.delete('s1');
    expect(a.get('s1')).toBeNull();
  });

  it('reads an unreadable record as none', () => {
    const index = new SessionKernelIndex(dir(), 'http://gw:8888/');
    index.set('s', { kernelId: 'k', name: 'python3' });
    const folder = fs.readdirSync(path.join(dir(), 'gateway-sessions'))[0];
    const file = fs.readdirSync(path.join(dir(), 'gateway-sessions', folder))[0];
    fs.writeFileSync(path.join(dir(), 'gateway-sessions', folder, file), '{"kernelId": 3');
    expect(index.get('s')).toBeNull();
  });
});

describe('noSessionsApi', () => {
  it('is 403, 404 and 405 (what the gateways answer), not other failures', () => {
    expect([403, 404, 405, 500, 401, null].map(noSessionsApi)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
