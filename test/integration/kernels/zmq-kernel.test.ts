/**
 * ZmqKernel against real ipykernel and bash_kernel processes, no Jupyter server: outputs of
 * every kind, pipelined requests in order, interrupts, death with its exit code, shutdown that
 * leaves no process, a forged (wrong HMAC) message dropped, a kernel that never answers
 * kernel_info, and an owner SIGKILLed with its kernel running.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { KernelMessage } from '@jupyterlab/services';
import { writeConnectionFile } from '../../../kernels/zmq/connection';
import { findKernelSpecs, type ZmqKernelSpec } from '../../../kernels/zmq/kernelspecs';
import { ZmqKernel, type ZmqKernelOptions } from '../../../kernels/zmq/zmq-kernel';
import { KernelDiedError, UnreachableError } from '../../../pipelines/errors';
import { commandLine, descendants, killAll, survivors } from '../../helpers/processes';
import { cleanupDirs, tempDir } from '../../helpers/temp-dirs';

const specs = findKernelSpecs();

function spec(name: string): ZmqKernelSpec {
  const found = specs.get(name);
  if (found === undefined) {
    throw new Error(`no kernelspec ${name}`);
  }
  return found;
}

/** What one execute request produced. */
interface Ran {
  reply: KernelMessage.IExecuteReplyMsg;
  iopub: KernelMessage.IIOPubMessage[];
}

async function runCell(kernel: ZmqKernel, code: string): Promise<Ran> {
  const iopub: KernelMessage.IIOPubMessage[] = [];
  const reply = await kernel.execute(code, {}, { onIOPub: (m) => iopub.push(m) }).done;
  return { reply, iopub };
}

function ofType(ran: Ran, type: string): KernelMessage.IIOPubMessage[] {
  return ran.iopub.filter((m) => m.header.msg_type === type);
}

function streamText(ran: Ran): string {
  return ofType(ran, 'stream')
    .map((m) => (m.content as { text: string }).text)
    .join('');
}

const started: ZmqKernel[] = [];

async function start(name: string, options: ZmqKernelOptions = {}): Promise<ZmqKernel> {
  const kernel = await ZmqKernel.start(spec(name), { cwd: tempDir(), ...options });
  started.push(kernel);
  return kernel;
}

afterAll(async () => {
  await Promise.all(started.map((k) => k.shutdown()));
  cleanupDirs();
});

describe('ZmqKernel on ipykernel', () => {
  let kernel: ZmqKernel;
  beforeAll(async () => {
    kernel = await start('python3');
  }, 60000);

  it('answers kernel_info: language and implementation', () => {
    expect(kernel.language.name).toBe('python');
    expect(kernel.language.implementation).toBe('ipython');
    expect(kernel.dead).toBeNull();
  });

  it('streams, display_data, execute_result and errors', async () => {
    const out = await runCell(
      kernel,
      'import sys\nprint("hello")\nprint("oops", file=sys.stderr)\nfrom IPython.display import display, HTML\ndisplay(HTML("<b>x</b>"))\n6*7',
    );
    expect(out.reply.content.status).toBe('ok');
    expect(streamText(out)).toContain('hello');
    expect(
      ofType(out, 'stream').some((m) => (m.content as { name: string }).name === 'stderr'),
    ).toBe(true);
    const display = ofType(out, 'display_data')[0].content as { data: Record<string, string> };
    expect(display.data['text/html']).toBe('<b>x</b>');
    const result = ofType(out, 'execute_result')[0].content as { data: Record<string, string> };
    expect(result.data['text/plain']).toBe('42');
    const failed = await runCell(kernel, '1/0');
    expect(failed.reply.content.status).toBe('error');
    const error = ofType(failed, 'error')[0].content as { ename: string };
    expect(error.ename).toBe('ZeroDivisionError');
  });

  it('input() raises StdinNotImplementedError (requests go with allow_stdin false)', async () => {
    const out = await runCell(kernel, 'input("name? ")');
    expect(out.reply.content.status).toBe('error');
    expect((ofType(out, 'error')[0].content as { ename: string }).ename).toBe(
      'StdinNotImplementedError',
    );
  });

  it('pipelined requests run and answer in order', async () => {
    let printed = '';
    const handles = Array.from({ length: 50 }, (_, i) =>
      kernel.execute(
        `print(${i})`,
        {},
        {
          onIOPub: (m) => {
            if (m.header.msg_type === 'stream') {
              printed += (m.content as { text: string }).text;
            }
          },
        },
      ),
    );
    const replies = await Promise.all(handles.map((h) => h.done));
    expect(replies.map((r) => r.content.execution_count)).toEqual(
      replies.map((_, i) => (replies[0].content.execution_count ?? 0) + i),
    );
    expect(printed.trim().split('\n').map(Number)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('interrupts time.sleep(30) with KeyboardInterrupt', async () => {
    const iopub: KernelMessage.IIOPubMessage[] = [];
    const handle = kernel.execute(
      'import time\nprint("sleeping", flush=True)\ntime.sleep(30)',
      {},
      {
        onIOPub: (m) => iopub.push(m),
      },
    );
    const t0 = Date.now();
    while (!iopub.some((m) => m.header.msg_type === 'stream')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await kernel.interrupt();
    const reply = await handle.done;
    expect(reply.content.status).toBe('error');
    expect(Date.now() - t0).toBeLessThan(10000);
    const error = iopub.find((m) => m.header.msg_type === 'error');
    expect((error?.content as { ename: string }).ename).toBe('KeyboardInterrupt');
    expect((await runCell(kernel, 'print("after")')).reply.content.status).toBe('ok');
  });

  it('runs setup code silently, and rejects when it fails', async () => {
    await kernel.run('x_setup = 5');
    expect(streamText(await runCell(kernel, 'print(x_setup)'))).toBe('5\n');
    await expect(kernel.run('raise ValueError("no")')).rejects.toThrow(/ValueError: no/);
  });
});

describe('ZmqKernel on bash_kernel', () => {
  it('runs commands and interrupts sleep 30', async () => {
    const kernel = await start('bash');
    expect(kernel.language.name).toBe('bash');
    expect(streamText(await runCell(kernel, 'echo hi-$((6*7))'))).toContain('hi-42');
    const iopub: KernelMessage.IIOPubMessage[] = [];
    const handle = kernel.execute('echo started; sleep 30', {}, { onIOPub: (m) => iopub.push(m) });
    const t0 = Date.now();
    while (!iopub.some((m) => m.header.msg_type === 'stream')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await kernel.interrupt();
    await handle.done;
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(streamText(await runCell(kernel, 'echo after'))).toContain('after');
    await kernel.shutdown();
  });
});

describe('ZmqKernel lifecycle', () => {
  it('interrupt_mode message: an interrupt_request on control interrupts time.sleep(30)', async () => {
    const kernel = await ZmqKernel.start({ ...spec('python3'), interruptMode: 'message' });
    started.push(kernel);
    const iopub: KernelMessage.IIOPubMessage[] = [];
    const handle = kernel.execute(
      'import time\nprint("sleeping", flush=True)\ntime.sleep(30)',
      {},
      {
        onIOPub: (m) => iopub.push(m),
      },
    );
    while (!iopub.some((m) => m.header.msg_type === 'stream')) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = Date.now();
    await kernel.interrupt();
    expect((await handle.done).content.status).toBe('error');
    expect(Date.now() - t0).toBeLessThan(5000);
    const error = iopub.find((m) => m.header.msg_type === 'error');
    expect((error?.content as { ename: string }).ename).toBe('KeyboardInterrupt');
    await kernel.shutdown();
  });

  it("starts like a Jupyter server's kernel: nbstage_init, helpers, history in memory, no tokens, its cwd", async () => {
    const cwd = tempDir();
    const kernel = await start('python3', {
      cwd,
      env: { NBSTAGE_JUPYTER_TOKEN: 'secret-token', NBSTAGE_TEST_VISIBLE: 'yes' },
    });
    const out = await runCell(
      kernel,
      [
        'import os, json, nbstage',
        'print(json.dumps([os.environ.get("NBSTAGE_KERNEL_ISOLATION"), "NBSTAGE_JUPYTER_TOKEN" in os.environ,',
        '  os.environ.get("NBSTAGE_TEST_VISIBLE"), str(get_ipython().history_manager.hist_file), os.getcwd()]))',
      ].join('\n'),
    );
    expect(out.reply.content.status).toBe('ok');
    const [isolation, token, visible, hist, kernelCwd] = JSON.parse(streamText(out)) as unknown[];
    expect(['pid-namespace', 'subreaper']).toContain(isolation);
    expect(token).toBe(false);
    expect(visible).toBe('yes');
    expect(hist).toBe(':memory:');
    expect(kernelCwd).toBe(fs.realpathSync(cwd));
    await kernel.shutdown();
  });

  it('death: os._exit(1) ends the request and keeps the exit code', async () => {
    const kernel = await start('python3');
    const deaths: string[] = [];
    kernel.onDeath((reason) => deaths.push(reason));
    const handle = kernel.execute('import os\nos._exit(1)');
    await expect(handle.done).rejects.toBeInstanceOf(KernelDiedError);
    expect(kernel.dead).toBe('dead');
    expect(deaths).toEqual(['dead']);
    expect(kernel.exit).toEqual({ code: 1, signal: null });
    expect(kernel.deathCause).toBe('exited with code 1');
    expect(() => kernel.execute('1')).toThrow(KernelDiedError);
    await kernel.shutdown();
  });

  it('death by a signal keeps the signal', async () => {
    const kernel = await start('python3');
    const handle = kernel.execute('import os, signal\nos.kill(os.getpid(), signal.SIGKILL)');
    await expect(handle.done).rejects.toBeInstanceOf(KernelDiedError);
    expect(kernel.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(kernel.deathCause).toBe('was killed by SIGKILL');
    await kernel.shutdown();
  });

  it('a kernel that exits before it is ready: UnreachableError (exit 5) with its code and last words', async () => {
    const broken: ZmqKernelSpec = {
      ...spec('python3'),
      name: 'broken',
      argv: ['python', '-c', 'import sys; print("no kernel here", file=sys.stderr); sys.exit(3)'],
    };
    const err = await ZmqKernel.start(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toBe(
      'cannot start kernel broken: it exited with code 3 before it was ready: no kernel here' +
        `${broken.resourceDir === '' ? '' : `; its kernelspec is in ${broken.resourceDir}`}` +
        ' (see nbstage doctor)',
    );
  });

  it('death: a kernel that stops answering its heartbeat (SIGSTOP) is dead', async () => {
    const kernel = await start('python3', { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1500 });
    const pids = [kernel.pid, ...descendants(kernel.pid)];
    // The kernel itself, not its nbstage_init wrapper (whose arguments name it too).
    const ipykernel = pids.find(
      (pid) =>
        commandLine(pid).includes('ipykernel_launcher') &&
        !commandLine(pid).includes('nbstage_init'),
    );
    expect(ipykernel).toBeDefined();
    const died = new Promise<string>((resolve) => kernel.onDeath(resolve));
    process.kill(ipykernel ?? -1, 'SIGSTOP');
    expect(await died).toBe('dead');
    expect(kernel.deathCause).toMatch(/^stopped answering its heartbeat for \d+ ms$/);
    await kernel.shutdown();
    expect(await survivors(pids, 5000)).toEqual([]);
  });

  it('writes the connection file private, and removes it once the kernel is ready', async () => {
    const runtimeDir = tempDir();
    const connection = await writeConnectionFile('python3', runtimeDir);
    try {
      expect(fs.statSync(connection.path).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(connection.path)).mode & 0o777).toBe(0o700);
    } finally {
      connection.remove();
    }
    expect(fs.readdirSync(runtimeDir)).toEqual([]);
    const kernel = await start('python3', { runtimeDir });
    try {
      // Ready: the kernel has read it, and its key is no longer on disk.
      expect(fs.readdirSync(runtimeDir)).toEqual([]);
      expect(await kernel.execute('1 + 1').done).toMatchObject({ content: { status: 'ok' } });
    } finally {
      await kernel.shutdown();
    }
  });

  it('shutdown leaves no process; twice is once', async () => {
    const kernel = await start('python3');
    const pids = [kernel.pid, ...descendants(kernel.pid)];
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await Promise.all([kernel.shutdown(), kernel.shutdown()]);
    expect(await survivors(pids, 5000)).toEqual([]);
    expect(kernel.dead).toBeNull();
  });

  it('shutdown of a busy kernel leaves no process', async () => {
    const kernel = await start('python3');
    const pids = [kernel.pid, ...descendants(kernel.pid)];
    const handle = kernel.execute('import time\ntime.sleep(60)');
    await new Promise((r) => setTimeout(r, 200));
    await kernel.shutdown();
    await expect(handle.done).rejects.toBeInstanceOf(KernelDiedError);
    expect(await survivors(pids, 5000)).toEqual([]);
  });

  it('a message with a wrong HMAC is dropped and logged, never shown', async () => {
    const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
    const kernel = await start('python3', { log: (msg, fields) => logged.push({ msg, fields }) });
    const out = await runCell(
      kernel,
      [
        'from jupyter_client.session import Session',
        'k = get_ipython().kernel',
        'parent = k.get_parent()',
        'Session(key=b"not-the-key").send(k.iopub_socket, "stream", {"name": "stdout", "text": "FORGED\\n"}, parent=parent)',
        'k.session.send(k.iopub_socket, "stream", {"name": "stdout", "text": "signed\\n"}, parent=parent)',
        'print("genuine")',
      ].join('\n'),
    );
    expect(out.reply.content.status).toBe('ok');
    const text = streamText(out);
    expect(text).toContain('signed');
    expect(text).toContain('genuine');
    expect(text).not.toContain('FORGED');
    expect(logged).toContainEqual({
      msg: 'dropped a kernel message',
      fields: expect.objectContaining({ channel: 'iopub', kind: 'bad-signature' }) as unknown,
    });
    await kernel.shutdown();
  });

  it('a kernel that never answers kernel_info: exit-5 error naming the kernelspec and timeout', async () => {
    const jupyterPath = tempDir();
    const dir = path.join(jupyterPath, 'kernels', 'never-answers');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'kernel.json'),
      JSON.stringify({ argv: ['sleep', '600'], display_name: 'Never', language: 'python' }),
    );
    const never = findKernelSpecs({ ...process.env, JUPYTER_PATH: jupyterPath }).get(
      'never-answers',
    );
    if (never === undefined) {
      throw new Error('the kernelspec in JUPYTER_PATH was not found');
    }
    expect(never.name).toBe('never-answers');
    const before = new Set(descendants(process.pid));
    const err = await ZmqKernel.start(never, { readyTimeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).exitCode).toBe(5);
    expect((err as Error).message).toContain('kernel never-answers');
    expect((err as Error).message).toContain('within 1.5 s');
    const left = descendants(process.pid).filter((p) => !before.has(p));
    expect(await survivors(left, 5000)).toEqual([]);
  });
});

describe('a SIGKILLed owner leaves no kernel', () => {
  const root = path.resolve(__dirname, '../../..');
  it.each([
    ['pid namespace', {}],
    ['subreaper', { NBSTAGE_NO_PIDNS: '1' }],
  ])('%s: the kernel is gone within 10 s, and no key is left on disk', async (_mode, env) => {
    const runtimeDir = tempDir();
    const script = [
      `const { ZmqKernel } = require(${JSON.stringify(path.join(root, 'dist/kernels/zmq/zmq-kernel.js'))});`,
      `const { findKernelSpecs } = require(${JSON.stringify(path.join(root, 'dist/kernels/zmq/kernelspecs.js'))});`,
      `ZmqKernel.start(findKernelSpecs().get('python3'), { runtimeDir: ${JSON.stringify(runtimeDir)} }).then((k) => {`,
      `  process.stdout.write('ready ' + k.pid + '\\n'); setInterval(() => undefined, 1000); });`,
    ].join('\n');
    const owner = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pids: number[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        owner.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (/ready \d+/.test(out)) {
            resolve();
          }
        });
        owner.once('exit', (code) => reject(new Error(`owner exited with ${code}: ${out}`)));
      });
      pids = descendants(owner.pid ?? -1);
      expect(pids.length).toBeGreaterThanOrEqual(3);
      owner.kill('SIGKILL');
      expect(await survivors(pids, 10000)).toEqual([]);
      expect(fs.readdirSync(runtimeDir)).toEqual([]);
    } finally {
      owner.kill('SIGKILL');
      killAll(pids);
    }
  });
});
