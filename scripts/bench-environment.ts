/**
 * `environment`: what the reproducibility record costs a run, in this process, on a real python3
 * kernel nbstage launched. Per start (BENCH_REPEAT, after one untimed): the record itself
 * (`runEnvironment`: the kernel's silent report of its packages, git of this checkout, the
 * machine), which a run awaits before its first cell; the install of the per-cell memory hooks;
 * and 100 trivial cells run with the hooks and 100 without on the same kernel, for the cost a
 * cell pays (its peak read from /proc, asked for and answered in its execute request and reply,
 * as the executor does: `pipelines/executor/kernel-peak.ts`).
 */
import { findKernelSpecs } from '../kernels/zmq/kernelspecs';
import { ZmqKernel } from '../kernels/zmq/zmq-kernel';
import { pythonResourcesCode, runEnvironment } from '../pipelines/environment/record';
import { PEAK_REQUEST, peakOfReply } from '../pipelines/executor/kernel-peak';
import { median, msSince, pause, repeat, root } from './bench-common';

const CELLS = 100;

/** Runs the trivial cells; `hooked`: each asks for its peak, which must come back. */
async function cells(kernel: ZmqKernel, hooked: boolean): Promise<number> {
  const options = hooked ? { userExpressions: PEAK_REQUEST } : {};
  const started = process.hrtime.bigint();
  for (let i = 0; i < CELLS; i++) {
    const reply = await kernel.execute(`x = ${i}`, options).done;
    if (hooked && peakOfReply(reply) === null) {
      throw new Error(`cell ${i} came back without its peak`);
    }
  }
  return msSince(started);
}

async function once(): Promise<{
  record: number;
  install: number;
  plain: number;
  hooked: number;
  packages: number;
}> {
  const spec = findKernelSpecs().get('python3');
  if (spec === undefined) {
    throw new Error('no python3 kernelspec');
  }
  const kernel = await ZmqKernel.start(spec, { cwd: root });
  try {
    let started = process.hrtime.bigint();
    const environment = await runEnvironment({
      kernel,
      language: 'python',
      dir: root,
      env: process.env,
    });
    const record = msSince(started);
    const plain = await cells(kernel, false);
    started = process.hrtime.bigint();
    await kernel.run(pythonResourcesCode());
    const install = msSince(started);
    const hooked = await cells(kernel, true);
    const packages = Object.keys((environment.packages ?? {}) as object).length;
    return { record, install, plain, hooked, packages };
  } finally {
    await kernel.shutdown();
  }
}

/** The `environment` case's JSON line. */
export async function environmentCost(): Promise<Record<string, unknown>> {
  await once();
  const runs: Awaited<ReturnType<typeof once>>[] = [];
  for (let i = 0; i < repeat; i++) {
    await pause();
    runs.push(await once());
  }
  const med = (pick: (r: (typeof runs)[number]) => number): number =>
    Number(median(runs.map(pick)).toFixed(1));
  const record = med((r) => r.record);
  return {
    case: 'environment',
    description:
      'the environment record a run awaits (kernel report, git, machine), the memory hooks, ' +
      `and ${CELLS} trivial cells with and without them (the peak back in each reply)`,
    repeat,
    packages: runs[0].packages,
    median_ms: {
      record,
      hooks_install: med((r) => r.install),
      cells_plain: med((r) => r.plain),
      cells_hooked: med((r) => r.hooked),
    },
    per_cell_hooks_ms: Number(((med((r) => r.hooked) - med((r) => r.plain)) / CELLS).toFixed(3)),
    target_ms: 100,
    meets_target: record < 100,
  };
}
