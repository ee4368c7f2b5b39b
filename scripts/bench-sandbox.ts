/**
 * `sandbox`: what a bubblewrap sandbox adds to a kernel's start: ZmqKernel.start of python3 to
 * its first kernel_info answer, in a fresh folder, with and without the sandbox, interleaved,
 * BENCH_REPEAT times each (after one untimed start of each); medians and minima, and the
 * difference of the medians.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findKernelSpecs } from '../kernels/zmq/kernelspecs';
import { sandboxSupport } from '../kernels/zmq/sandbox';
import { ZmqKernel } from '../kernels/zmq/zmq-kernel';
import { median, msSince, pause, repeat } from './bench-common';

async function startOnce(sandboxed: boolean, bwrap: string): Promise<number> {
  const spec = findKernelSpecs().get('python3');
  if (spec === undefined) {
    throw new Error('no python3 kernelspec');
  }
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-bench-sandbox-'));
  const started = process.hrtime.bigint();
  const kernel = await ZmqKernel.start(spec, {
    cwd,
    ...(sandboxed ? { sandbox: { bwrap, binds: [] } } : {}),
  });
  const ms = msSince(started);
  await kernel.shutdown();
  fs.rmSync(cwd, { recursive: true, force: true });
  return ms;
}

/** The `sandbox` case's JSON line. */
export async function sandboxStart(): Promise<Record<string, unknown>> {
  const support = sandboxSupport();
  if (!support.available) {
    return { case: 'sandbox', skipped: support.reason };
  }
  const times: Record<'plain' | 'sandboxed', number[]> = { plain: [], sandboxed: [] };
  await startOnce(false, support.bwrap);
  await startOnce(true, support.bwrap);
  for (let i = 0; i < repeat; i++) {
    for (const mode of ['plain', 'sandboxed'] as const) {
      await pause();
      times[mode].push(await startOnce(mode === 'sandboxed', support.bwrap));
    }
  }
  const med = { plain: median(times.plain), sandboxed: median(times.sandboxed) };
  return {
    case: 'sandbox',
    description: 'python3 kernel start to its first kernel_info answer, with and without bwrap',
    repeat,
    median_ms: { plain: Math.round(med.plain), sandboxed: Math.round(med.sandboxed) },
    min_ms: {
      plain: Math.round(Math.min(...times.plain)),
      sandboxed: Math.round(Math.min(...times.sandboxed)),
    },
    added_ms: Math.round(med.sandboxed - med.plain),
  };
}
