/**
 * The resident memory of a kernel's process tree, read from Linux's `/proc` by this process: the
 * wrapper nbstage launched and every process under it (the kernel, what a notebook starts),
 * their resident sizes (`VmRSS`) summed and sampled while a cell runs. The largest sum seen is
 * the cell's peak when the kernel cannot measure it itself (a Python kernel does, exactly:
 * `kernels/python/nbstage/resources.py`), and what a kernel killed mid-cell (the OOM killer)
 * leaves behind. Processes that share pages are counted in each. Off Linux every reading is
 * null: nothing is claimed.
 */
import fs from 'node:fs';
import os from 'node:os';

/** A cgroup's memory limit in bytes (v2 `memory.max`, v1 `memory.limit_in_bytes`), or null. */
function cgroupLimit(): number | null {
  let lines: string[];
  try {
    lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  } catch {
    return null;
  }
  const files: string[] = [];
  for (const line of lines) {
    const [, controllers, where] = line.split(':');
    if (controllers === '' && where !== undefined) {
      files.push(`/sys/fs/cgroup${where}/memory.max`, `/sys/fs/cgroup/unified${where}/memory.max`);
    } else if (controllers?.split(',').includes('memory') && where !== undefined) {
      files.push(`/sys/fs/cgroup/memory${where}/memory.limit_in_bytes`);
    }
  }
  let limit: number | null = null;
  for (const file of files) {
    try {
      const value = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isFinite(value) && value > 0) {
        limit = Math.min(limit ?? value, value);
      }
    } catch {
      // no such controller here
    }
  }
  return limit;
}

/** The memory a process here can have at most: the machine's, or its cgroup's when less. */
export function availableMemory(): number {
  const cgroup = cgroupLimit();
  return cgroup === null ? os.totalmem() : Math.min(cgroup, os.totalmem());
}

/** How often the tree's peak is read while a cell runs (ms). */
export const TREE_SAMPLE_MS = 50;

/** The pids of `root` and every process below it (children of any of its threads). */
export function treePids(root: number): number[] {
  const seen = new Set<number>();
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) {
      continue;
    }
    seen.add(pid);
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone, or not Linux
    }
    for (const tid of tasks) {
      try {
        const children = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
        for (const child of children.split(' ')) {
          if (child.trim() !== '') {
            queue.push(Number(child));
          }
        }
      } catch {
        // The thread ended while we looked.
      }
    }
  }
  return [...seen];
}

/** A process's `VmRSS` in bytes, or null when it cannot be read (gone; a kernel thread). */
function residentSize(pid: number): number | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? null : Number(match[1]) * 1024;
}

/** The peak resident memory of one process tree, cell by cell (see the module comment). */
export class TreeMemory {
  private cellPeakBytes: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  /** The memory the tree could have without a limit: the machine's or its cgroup's. */
  readonly machineBytes = availableMemory();

  /** `limitBytes`: the `--memory` limit the tree runs under, or null. */
  constructor(
    private readonly root: number,
    readonly limitBytes: number | null = null,
  ) {}

  /** The sum of the tree's resident sizes now, or null when none could be read. */
  read(): number | null {
    let sum: number | null = null;
    for (const pid of treePids(this.root)) {
      const rss = residentSize(pid);
      if (rss !== null) {
        sum = (sum ?? 0) + rss;
      }
    }
    return sum;
  }

  /**
   * A cell starts: its peak counts from now. The tree is sampled from the first cell on until
   * the kernel is gone (a cell's end is seen late now and then, after the next one started, so
   * sampling does not stop with it).
   */
  cellStarted(): void {
    this.cellPeakBytes = this.read();
    if (this.timer === null && !this.stopped) {
      this.timer = setInterval(() => this.sample(), TREE_SAMPLE_MS);
      this.timer.unref();
    }
  }

  /** The cell's peak so far (bytes), read now when the tree is there; null when never read. */
  cellEnded(): number | null {
    this.sample();
    return this.cellPeakBytes;
  }

  /** The last peak seen of the current (or last) cell, without reading again. */
  get lastPeak(): number | null {
    return this.cellPeakBytes;
  }

  /** Stops sampling for good (the kernel is gone or shut down). */
  stop(): void {
    this.stopped = true;
    this.stopSampling();
  }

  private sample(): void {
    const now = this.read();
    if (now !== null) {
      this.cellPeakBytes = Math.max(this.cellPeakBytes ?? 0, now);
    }
  }

  private stopSampling(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
