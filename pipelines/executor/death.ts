/**
 * Kernel deaths: the error a death ends a run with, and which cell it is blamed on. A kernel
 * killed outright loses the messages it had not sent yet (a finished cell's last `idle`, say),
 * so the cell the run was waiting on is not always the one that was running.
 */
import { KernelDiedError } from '../errors';
import type { CellStatus } from './events';
import type { CellRequest } from './cell-request';
import type { DeathReason } from './kernel';

/**
 * The error of a run whose kernel `kernelName` is gone for `reason`, in cell `cellIndex`, with
 * how its process ended when that is known ("kernel python3 died in cell 2 (was killed by
 * SIGKILL)").
 */
export function deathError(
  kernelName: string,
  reason: DeathReason,
  cellIndex: number | undefined,
  cause?: string | null,
): KernelDiedError {
  const what =
    reason === 'disconnected'
      ? `lost the connection to kernel ${kernelName}`
      : reason === 'server-died'
        ? `the Jupyter server running kernel ${kernelName} died`
        : `kernel ${kernelName} died`;
  return new KernelDiedError(
    what +
      (cellIndex === undefined ? '' : ` in cell ${cellIndex}`) +
      (cause === undefined || cause === null || cause === '' ? '' : ` (${cause})`),
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
