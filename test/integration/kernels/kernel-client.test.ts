import type { KernelMessage } from '@jupyterlab/services';
import { KernelClient } from '../../../kernels/kernel-client';
import { listKernelSpecs } from '../../../kernels/jupyter-rest';
import { KernelNotFoundError } from '../../../pipelines/errors';
import { useJupyterServer } from '../../helpers/jupyter';

describe('KernelClient on a real jupyter_server', () => {
  const server = useJupyterServer();

  it('lists python3 and bash kernelspecs', async () => {
    const specs = await listKernelSpecs(server().endpoint);
    const names = specs.specs.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['python3', 'bash']));
  });

  it('pipelines execute requests and gets every reply in order', async () => {
    const kernel = await KernelClient.start(server().endpoint, 'python3');
    try {
      expect(kernel.language.name).toBe('python');
      const texts: string[] = [];
      const handles = Array.from({ length: 50 }, (_, i) =>
        kernel.execute(
          `print(${i})`,
          {},
          {
            onIOPub: (msg: KernelMessage.IIOPubMessage) => {
              if (msg.header.msg_type === 'stream') {
                texts.push((msg as KernelMessage.IStreamMsg).content.text);
              }
            },
          },
        ),
      );
      const replies = await Promise.all(handles.map((h) => h.done));
      expect(replies.map((r) => r.content.status)).toEqual(Array(50).fill('ok'));
      // One print may come as several stream messages ("42", "\n"): the order is what counts.
      expect(texts.join('')).toBe(Array.from({ length: 50 }, (_, i) => `${i}\n`).join(''));
    } finally {
      await kernel.shutdown();
    }
  });

  it('aborts queued requests after an error with stop_on_error', async () => {
    const kernel = await KernelClient.start(server().endpoint, 'python3');
    try {
      const a = kernel.execute('1/0');
      const b = kernel.execute('x = 1');
      expect((await a.done).content.status).toBe('error');
      expect((await b.done).content.status).toBe('aborted');
    } finally {
      await kernel.shutdown();
    }
  });

  it('interrupts a busy cell with KeyboardInterrupt', async () => {
    const kernel = await KernelClient.start(server().endpoint, 'python3');
    try {
      const h = kernel.execute('import time\nwhile True: time.sleep(0.01)');
      await new Promise((r) => setTimeout(r, 300));
      await kernel.interrupt();
      const reply = await h.done;
      expect(reply.content.status).toBe('error');
      expect((reply.content as { ename: string }).ename).toBe('KeyboardInterrupt');
    } finally {
      await kernel.shutdown();
    }
  });

  it('reports the death of a kernel that kills itself', async () => {
    const kernel = await KernelClient.start(server().endpoint, 'python3');
    try {
      const died = new Promise((resolve) => kernel.onDeath(resolve));
      kernel.execute('import os; os.kill(os.getpid(), 9)').done.catch(() => undefined);
      await expect(died).resolves.toMatch(/dead|restarting|disconnected/);
    } finally {
      await kernel.shutdown();
    }
  });

  it('names the available kernels when asked for an unknown one', async () => {
    const err = await KernelClient.start(server().endpoint, 'no-such-kernel').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KernelNotFoundError);
    expect((err as Error).message).toMatch(
      /unknown kernel "no-such-kernel" \(available: .*python3/,
    );
  });
});
