/**
 * The process tree as /proc shows it, for tests of what nbstage leaves running: descendants of
 * a process, whether processes are gone, and the processes marked as this suite's.
 */
import fs from 'node:fs';

/** Parent pid of every process. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      map.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return map;
}

/** The process ids of every descendant of `pid`. */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const [child, parent] of parents()) {
    byParent.set(parent, [...(byParent.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    for (const child of byParent.get(todo.pop() ?? 0) ?? []) {
      found.push(child);
      todo.push(child);
    }
  }
  return found;
}

/** Whether `pid` runs (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of `pid` ('' when it is gone). */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * Waits up to `timeoutMs` for every process of `pids` to be gone; resolves to the ones still
 * running then, as `pid command line` lines (empty when all are gone).
 */
export async function survivors(pids: number[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() >= deadline) {
      return left.map((pid) => `${pid} ${commandLine(pid)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills whatever of `pids` still runs (a test's last resort after it has failed). */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    if (pid > 0 && alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** The environment variable that marks every process this test run starts (global setup). */
export const SUITE_MARK = 'NBSTAGE_TEST_SUITE';

/** Processes (other than this one) whose environment holds `SUITE_MARK=value`. */
export function markedProcesses(value: string): number[] {
  const needle = Buffer.from(`${SUITE_MARK}=${value}\0`);
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) {
      continue;
    }
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`);
      if (environ.includes(needle) && alive(Number(entry))) {
        found.push(Number(entry));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Processes whose command line contains `text`. */
export function processesWithArgs(text: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .map(Number)
    .filter((pid) => alive(pid) && commandLine(pid).includes(text));
}
