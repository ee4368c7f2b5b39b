/**
 * How `nbstage doctor` looks for programs: runs a command with a timeout and never rejects, or
 * finds one on the PATH without running it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const COMMAND_TIMEOUT_MS = 10_000;

/** What running a command gave. */
export interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** The command does not exist (ENOENT). */
  notFound: boolean;
  /** Why it failed, in a few words. */
  reason?: string;
}

/** Runs a command with `env` (its PATH finds the command); never rejects. */
export function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ ok: true, stdout, stderr, notFound: false });
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        const lastLine = stderr.trim().split('\n').pop() ?? '';
        const reason =
          code === 'ENOENT'
            ? 'not found'
            : code === 'EACCES'
              ? 'not executable'
              : error.killed
                ? `no answer within ${COMMAND_TIMEOUT_MS / 1000} s`
                : lastLine || `exit code ${String(error.code)}`;
        resolve({ ok: false, stdout, stderr, notFound: code === 'ENOENT', reason });
      },
    );
  });
}

/** `command: why it failed`, for a report row. */
export function describeFailure(command: string, result: CommandResult | undefined): string {
  return `${command}: ${result?.reason ?? 'failed'}`;
}

/** Where `command` is on the PATH of `env`, without running it (Groovy takes a second to start). */
export function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') {
      continue;
    }
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        return candidate;
      }
    } catch {
      // not here; next directory
    }
  }
  return undefined;
}
