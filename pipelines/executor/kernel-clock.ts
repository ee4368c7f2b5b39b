/**
 * Times as the kernel reports them: the `header.date` of its messages. nbclient records a cell's
 * `metadata.execution` timestamps from these, and a cell's duration is the kernel's own busy to
 * idle span, so neither the transport nor a kernel's start is ever charged to a cell.
 */
import type { KernelMessage } from '@jupyterlab/services';

/** One instant on the kernel's clock. */
export interface KernelTime {
  /** As nbclient writes it: `2024-05-01T12:00:00.123456Z` (UTC, microseconds when known). */
  iso: string;
  /** Milliseconds since the epoch, with the microseconds as a fraction. */
  ms: number;
}

const UTC_MICROS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6})\d*)?(?:Z|[+-]00:?00)$/;

/**
 * The kernel's time of a message, or null when its header has no usable date.
 *
 * @param msg - a message from the kernel (iopub or shell)
 */
export function kernelTime(msg: KernelMessage.IMessage): KernelTime | null {
  const date: unknown = msg.header.date;
  if (typeof date !== 'string' || date === '') {
    return null;
  }
  const utc = UTC_MICROS.exec(date);
  if (utc !== null) {
    const fraction = (utc[2] ?? '').padEnd(6, '0');
    const seconds = Date.parse(`${utc[1]}Z`);
    if (!Number.isNaN(seconds)) {
      return { iso: `${utc[1]}.${fraction}Z`, ms: seconds + Number(fraction) / 1000 };
    }
  }
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? null : { iso: new Date(ms).toISOString(), ms };
}

/**
 * A cell's duration in whole milliseconds from the kernel's busy and idle times, or null when
 * either is unknown or they are out of order.
 */
export function kernelSpanMs(busy: KernelTime | null, idle: KernelTime | null): number | null {
  if (busy === null || idle === null || idle.ms < busy.ms) {
    return null;
  }
  return Math.round(idle.ms - busy.ms);
}
