/**
 * Kernel deaths: the error a death ends a run with, and which cell it is blamed on. A kernel
 * killed outright loses the messages it had not sent yet (a finished cell's last `idle`, say),
 * so the cell the run was waiting on is not always the one that was running.
 */
import { KernelDiedError } from '../errors';
import type { CellStatus } from './events';
import type { CellRequest } from './cell-request';
import type { DeathReason, ExecutorKernel } from './kernel';
import { formatLimit } from './output-limits';

/** What is known of how a kernel's process ended, for its death's message. */
export interface DeathFacts {
  /** In words: `exited with code 1`, `was killed by SIGKILL`. */
  cause: string | null;
  /** The signal that killed it, when one did. */
  signal: string | null;
  /** The peak resident memory of its processes during the cell it died in (bytes). */
  peakBytes: number | null;
  /** The `--memory` limit it ran under (bytes). */
  limitBytes: number | null;
  /** The memory it could have had without one (bytes). */
  machineBytes: number | null;
}

/** What a kernel tells of its own end. */
export function deathFacts(kernel: ExecutorKernel): DeathFacts {
  return {
    cause: kernel.deathCause ?? null,
    signal: kernel.deathSignal ?? null,
    peakBytes: kernel.memory?.lastPeak ?? null,
    limitBytes: kernel.memory?.limitBytes ?? null,
    machineBytes: kernel.memory?.machineBytes ?? null,
  };
}

/**
 * Why a SIGKILL came, as far as the memory says: the OS's out-of-memory killer sends it, and
 * so does a user, so only a peak near the limit is called out of memory outright.
 */
function killedWhy(facts: DeathFacts): string {
  const { peakBytes: peak, limitBytes: limit, machineBytes: machine } = facts;
  if (peak === null) {
    return 'peak memory unknown; the OS kills with it when memory runs out';
  }
  if (limit !== null) {
    const verdict = peak >= 0.9 * limit ? 'out of memory' : 'not near it';
    return `peak ${formatLimit(peak)} of the ${formatLimit(limit)} memory limit: ${verdict}`;
  }
  if (machine !== null && peak < 0.5 * machine) {
    return `peak ${formatLimit(peak)} of ${formatLimit(machine)}: unlikely to be out of memory`;
  }
  return `peak ${formatLimit(peak)}; likely out of memory`;
}

/**
 * The error of a run whose kernel `kernelName` is gone for `reason`, in cell `cellIndex`. A kernel
 * killed by a signal says so ("kernel python3 was killed by SIGKILL during cell 12 (peak 7.8 GiB;
 * likely out of memory)"); other deaths say how the process ended when that is known ("kernel
 * python3 died in cell 2 (exited with code 1)").
 */
export function deathError(
  kernelName: string,
  reason: DeathReason,
  cellIndex: number | undefined,
  facts?: DeathFacts | null,
): KernelDiedError {
  const during = cellIndex === undefined ? '' : ` during cell ${cellIndex}`;
  if (reason === 'dead' && facts?.signal !== null && facts?.signal !== undefined) {
    const why = facts.signal === 'SIGKILL' ? ` (${killedWhy(facts)})` : '';
    return new KernelDiedError(
      `kernel ${kernelName} was killed by ${facts.signal}${during}${why}`,
      cellIndex,
    );
  }
  const what =
    reason === 'disconnected'
      ? `lost the connection to kernel ${kernelName}`
      : reason === 'server-died'
        ? `the Jupyter server running kernel ${kernelName} died`
        : `kernel ${kernelName} died`;
  const cause = facts?.cause ?? null;
  return new KernelDiedError(
    what +
      (cellIndex === undefined ? '' : ` in cell ${cellIndex}`) +
      (cause === null || cause === '' ? '' : ` (${cause})`),
    cellIndex,
  );
}

/** Who a death is blamed on: the cells that had finished before it, and the cell it killed. */
export interface DeathBlame {
  finished: CellRequest[];
  victim: CellRequest;
}

/**
 * Blames a death on the first cell, from `current` on in the order they were sent, that had no
 * reply and was not followed by a cell the kernel was seen starting (a cell the kernel started
 * means every cell before it had finished). The cells passed over had finished.
 */
export function blameDeath(sent: readonly CellRequest[], current: CellRequest): DeathBlame {
  const from = sent.indexOf(current);
  let lastStarted = from;
  for (let k = from; k >= 0 && k < sent.length; k++) {
    if (sent[k].startedAt !== null) {
      lastStarted = k;
    }
  }
  const finished: CellRequest[] = [];
  let i = from;
  while (i >= 0 && i < sent.length && (i < lastStarted || sent[i].reply !== null)) {
    finished.push(sent[i]);
    i++;
  }
  return { finished, victim: i >= 0 && i < sent.length ? sent[i] : current };
}

/** The status of a cell that finished before a death: from its reply, else from its outputs. */
export function statusBeforeDeath(request: CellRequest): CellStatus {
  const status = request.replyStatus;
  if (status === 'aborted') {
    return 'aborted';
  }
  const failed =
    status === 'error' ||
    (status === undefined && request.cell.outputs.some((o) => o.output_type === 'error'));
  return failed ? 'error' : 'ok';
}
