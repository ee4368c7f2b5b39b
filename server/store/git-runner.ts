/**
 * Runs the real `git` command on one repository, isolated from the machine: no system or user
 * configuration, no inherited `GIT_*` variables, a fixed locale, and a given identity. This is
 * the version store's only door to git; tests and other backends can pass their own runner.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { InternalError } from '../../pipelines/errors';

/** What one git command produced. */
export interface GitResult {
  /** Exit status (a signal counts as 128 + its number, as in a shell). */
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Options of one git command. */
export interface GitRunOptions {
  /** Written to git's standard input, which is then closed. */
  input?: string | Buffer;
  /** Extra environment (identity and dates of commit-tree). */
  env?: Record<string, string>;
  /** Resolve with the result when git exits non-zero, instead of throwing. */
  allowFailure?: boolean;
}

/** Runs git commands on one repository. */
export interface GitRunner {
  /** The repository (`--git-dir`). */
  readonly gitDir: string;
  /**
   * Runs `git --git-dir <gitDir> <args>`.
   *
   * @throws InternalError naming the command and git's message when it exits non-zero (unless
   * `allowFailure`) or git cannot be started
   */
  run(args: string[], options?: GitRunOptions): Promise<GitResult>;
}

/**
 * The environment git runs with: the parent's, less every `GIT_*` variable (a Jenkins agent or
 * a hook may set `GIT_DIR`, `GIT_INDEX_FILE`, `GIT_CONFIG_PARAMETERS`, ...), with system and
 * global configuration off, `HOME` pointing into the repository, a C locale and no prompts.
 */
export function isolatedGitEnv(gitDir: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!key.startsWith('GIT_') && key !== 'XDG_CONFIG_HOME' && key !== 'EMAIL') {
      env[key] = value;
    }
  }
  return {
    ...env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: os.devNull,
    HOME: gitDir,
    LC_ALL: 'C',
    LANG: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
  };
}

/** Options of {@link createGitRunner}. */
export interface GitRunnerOptions {
  /** The git executable (default `git` on PATH). */
  executable?: string;
  /** The environment to start from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** The default {@link GitRunner}: spawns the git executable with an isolated environment. */
export function createGitRunner(gitDir: string, options: GitRunnerOptions = {}): GitRunner {
  const executable = options.executable ?? 'git';
  const baseEnv = isolatedGitEnv(gitDir, options.env ?? process.env);
  return {
    gitDir,
    run(args: string[], runOptions: GitRunOptions = {}): Promise<GitResult> {
      const fullArgs = ['--git-dir', gitDir, ...args];
      return new Promise((resolve, reject) => {
        const child = spawn(executable, fullArgs, {
          env: { ...baseEnv, ...runOptions.env },
          stdio: ['pipe', 'pipe', 'pipe'],
          windowsHide: true,
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
        // git may exit before reading all of its input; the exit status tells what happened.
        child.stdin.on('error', () => undefined);
        child.on('error', (error: NodeJS.ErrnoException) => {
          reject(
            new InternalError(
              error.code === 'ENOENT'
                ? `git is not installed (no "${executable}" on PATH); the version store needs it`
                : `cannot run git: ${error.message}`,
            ),
          );
        });
        child.on('close', (code, signal) => {
          const result: GitResult = {
            code: code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0)),
            stdout: Buffer.concat(out),
            stderr: Buffer.concat(err).toString('utf8'),
          };
          if (result.code !== 0 && runOptions.allowFailure !== true) {
            const message = result.stderr.trim().split('\n').slice(-3).join('; ');
            reject(
              new InternalError(
                `git ${args[0]} failed in ${gitDir} (exit ${result.code}): ${message}`,
              ),
            );
            return;
          }
          resolve(result);
        });
        child.stdin.end(runOptions.input ?? '');
      });
    },
  };
}
