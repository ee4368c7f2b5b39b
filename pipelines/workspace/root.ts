/**
 * Where a notebook's workspace begins: `--workspace DIR`; else `$WORKSPACE` (Jenkins) when it
 * holds the notebook; else the top of the git work tree that holds it; else the notebook's
 * folder. The kernel's working directory is the notebook's folder at the same relative place
 * inside the root, so relative paths behave alike embedded and remote.
 */
import { execFile } from 'node:child_process';
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { NotebookInvalidError, ValidationError, readFailureReason } from '../errors';

/** Which rule chose the root. */
export type WorkspaceRootSource = 'option' | 'jenkins' | 'git' | 'folder';

/** The root of a notebook's workspace and where the notebook lies in it. */
export interface WorkspaceRoot {
  /** The root, absolute, symlinks resolved (`realpath`). */
  readonly root: string;
  /** The notebook relative to the root, `/`-separated: `notebooks/train.ipynb`. */
  readonly notebookRel: string;
  /** The notebook's folder relative to the root, `/`-separated; `.` at the root. */
  readonly cwdRel: string;
  readonly source: WorkspaceRootSource;
}

/** Options of {@link workspaceRoot}. */
export interface WorkspaceRootOptions {
  /** `--workspace DIR`; relative to `cwd`. */
  readonly workspace?: string;
  /** The environment: `WORKSPACE` is read from it, and git runs with it (its `PATH`). */
  readonly env: NodeJS.ProcessEnv;
  /** What relative paths are relative to; default `process.cwd()`. */
  readonly cwd?: string;
}

/** Whether the real folder `dir` is `root` or lies below it. */
function holds(root: string, dir: string): boolean {
  const rel = path.relative(root, dir);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The top of the git work tree holding `dir`, or null: no git, not a repository, git refused. */
function gitTopLevel(dir: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  // GIT_DIR and GIT_WORK_TREE (set inside git hooks) would answer for another repository.
  const gitEnv = { ...env };
  delete gitEnv.GIT_DIR;
  delete gitEnv.GIT_WORK_TREE;
  return new Promise((resolve) => {
    execFile(
      'git',
      ['rev-parse', '--show-toplevel'],
      { cwd: dir, env: gitEnv, encoding: 'utf8', timeout: 10_000 },
      (err, stdout) => {
        const top = stdout.trim();
        resolve(err === null && top !== '' ? top : null);
      },
    );
  });
}

/** `dir` with symlinks resolved when it is an existing folder, else null. */
async function realFolder(dir: string): Promise<string | null> {
  try {
    const real = await realpath(dir);
    return (await stat(real)).isDirectory() ? real : null;
  } catch {
    return null;
  }
}

/**
 * The workspace root of a notebook, by the rules of this module's header. The notebook's folder
 * is resolved (`realpath`) and so is every candidate root, so a root reached through a symlink
 * holds the notebook as it should; the notebook file itself may be a symlink.
 *
 * @throws NotebookInvalidError when the notebook does not exist; ValidationError naming
 *   `--workspace` when that folder does not exist or does not hold the notebook
 */
export async function workspaceRoot(
  notebookPath: string,
  options: WorkspaceRootOptions,
): Promise<WorkspaceRoot> {
  const cwd = options.cwd ?? process.cwd();
  const notebook = path.resolve(cwd, notebookPath);
  try {
    await lstat(notebook);
  } catch (err) {
    throw new NotebookInvalidError(`cannot read ${notebookPath}: ${readFailureReason(err)}`);
  }
  const folder = await realpath(path.dirname(notebook));
  const place = (root: string, source: WorkspaceRootSource): WorkspaceRoot => {
    const notebookRel = path
      .relative(root, path.join(folder, path.basename(notebook)))
      .split(path.sep)
      .join('/');
    return { root, notebookRel, cwdRel: path.posix.dirname(notebookRel), source };
  };

  if (options.workspace !== undefined) {
    const root = await realFolder(path.resolve(cwd, options.workspace));
    if (root === null) {
      throw new ValidationError(
        '--workspace',
        `--workspace: ${options.workspace} is not an existing folder`,
      );
    }
    if (!holds(root, folder)) {
      throw new ValidationError(
        '--workspace',
        `--workspace: ${options.workspace} does not hold the notebook ${notebookPath}`,
      );
    }
    return place(root, 'option');
  }
  const jenkins = options.env.WORKSPACE;
  if (jenkins !== undefined && jenkins !== '') {
    const root = await realFolder(path.resolve(cwd, jenkins));
    if (root !== null && holds(root, folder)) {
      return place(root, 'jenkins');
    }
  }
  const top = await gitTopLevel(folder, options.env);
  const gitRoot = top === null ? null : await realFolder(top);
  if (gitRoot !== null && holds(gitRoot, folder)) {
    return place(gitRoot, 'git');
  }
  return place(folder, 'folder');
}
