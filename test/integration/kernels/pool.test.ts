import { KernelClient } from '../../../kernels/kernel-client';
import { KernelPool } from '../../../kernels/pool';
import { useJupyterServer } from '../../helpers/jupyter';

describe('KernelPool', () => {
  const server = useJupyterServer();

  const kernelIds = async (): Promise<string[]> => {
    const res = await fetch(new URL('api/kernels', server().endpoint.baseUrl), {
      headers: { Authorization: `token ${server().endpoint.token}` },
    });
    return ((await res.json()) as { id: string }[]).map((k) => k.id);
  };

  it('hands out the kernel it started ahead and starts the next one', async () => {
    const before = new Set(await kernelIds());
    const pool = new KernelPool((name) => KernelClient.start(server().endpoint, name), { size: 1 });
    try {
      pool.prewarm('python3', 1);
      let warm: string[] = [];
      for (let i = 0; i < 200 && warm.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        warm = (await kernelIds()).filter((id) => !before.has(id));
      }
      expect(warm).toHaveLength(1);
      const kernel = await pool.acquire('python3');
      expect(kernel.id).toBe(warm[0]);
      expect((await kernel.execute('1 + 1').done).content.status).toBe('ok');
      // Taking it started a replacement.
      const after = (await kernelIds()).filter((id) => !before.has(id));
      expect(after).toHaveLength(2);
      await kernel.shutdown();
    } finally {
      await pool.close();
    }
    expect((await kernelIds()).filter((id) => !before.has(id))).toEqual([]);
  });

  it('never hands out a dead kernel', async () => {
    const pool = new KernelPool((name) => KernelClient.start(server().endpoint, name), { size: 1 });
    try {
      pool.prewarm('python3', 1);
      const k = await pool.acquire('python3');
      await k.shutdown();
      const next = await pool.acquire('python3');
      expect(next.dead).toBeNull();
      expect(next.id).not.toBe(k.id);
      await next.shutdown();
    } finally {
      await pool.close();
    }
  });
});
