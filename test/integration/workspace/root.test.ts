/**
 * workspaceRoot on a real filesystem with real git: `--workspace`, `$WORKSPACE`, the git work
 * tree, the notebook's folder, symlinks resolved.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NotebookInvalidError, ValidationError } from '../../../pipelines/errors';
import { workspaceRoot } from '../../../pipelines/workspace';
import { useTempDir } from '../../helpers/temp-dirs';
import { writeTree } from './tree';

const dir = useTempDir();

/** A checkout: a git work tree at `repo/` with the notebook in `repo/notebooks/`. */
function checkout(): { repo: string; notebook: string } {
  const repo = path.join(fs.realpathSync(dir()), 'repo');
  writeTree(repo, { 'notebooks/train.ipynb': '{}', 'data/x.csv': '1\n' });
  execFileSync('git', ['init', '-q', repo]);
  return { repo, notebook: path.join(repo, 'notebooks', 'train.ipynb') };
}

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

describe('workspaceRoot', () => {
  it('takes --workspace when it holds the notebook', async () => {
    const { repo, notebook } = checkout();
    const found = await workspaceRoot(notebook, { workspace: path.join(repo, 'notebooks'), env });
    expect(found).toEqual({
      root: path.join(repo, 'notebooks'),
      notebookRel: 'train.ipynb',
      cwdRel: '.',
      source: 'option',
    });
  });

  it('refuses a --workspace that does not exist or does not hold the notebook, naming --workspace', async () => {
    const { repo, notebook } = checkout();
    for (const workspace of [path.join(repo, 'missing'), path.join(repo, 'data')]) {
      const err = await workspaceRoot(notebook, { workspace, env }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('--workspace');
      expect((err as ValidationError).exitCode).toBe(2);
    }
  });

  it('takes $WORKSPACE when it holds the notebook, else goes on to git', async () => {
    const { repo, notebook } = checkout();
    const jenkins = await workspaceRoot(notebook, {
      env: { ...env, WORKSPACE: path.join(repo, 'notebooks') },
    });
    expect(jenkins.source).toBe('jenkins');
    expect(jenkins.root).toBe(path.join(repo, 'notebooks'));
    const elsewhere = path.join(dir(), 'other-job');
    fs.mkdirSync(elsewhere);
    const git = await workspaceRoot(notebook, { env: { ...env, WORKSPACE: elsewhere } });
    expect(git.source).toBe('git');
  });

  it('takes the top of the git work tree, with the notebook at its relative place', async () => {
    const { repo } = checkout();
    const found = await workspaceRoot('notebooks/train.ipynb', { env, cwd: repo });
    expect(found).toEqual({
      root: repo,
      notebookRel: 'notebooks/train.ipynb',
      cwdRel: 'notebooks',
      source: 'git',
    });
  });

  it('takes the notebook folder outside a repository, and when there is no git at all', async () => {
    const plain = path.join(fs.realpathSync(dir()), 'plain');
    writeTree(plain, { 'sub/nb.ipynb': '{}' });
    const notebook = path.join(plain, 'sub', 'nb.ipynb');
    const outside = await workspaceRoot(notebook, { env });
    expect(outside).toEqual({
      root: path.join(plain, 'sub'),
      notebookRel: 'nb.ipynb',
      cwdRel: '.',
      source: 'folder',
    });
    const { notebook: inRepo, repo } = checkout();
    const noGit = await workspaceRoot(inRepo, { env: { PATH: path.join(dir(), 'no-such-bin') } });
    expect(noGit.source).toBe('folder');
    expect(noGit.root).toBe(path.join(repo, 'notebooks'));
  });

  it('resolves symlinks of the root and of the notebook folder alike', async () => {
    const { repo } = checkout();
    const alias = path.join(dir(), 'alias');
    fs.symlinkSync(repo, alias);
    const viaAlias = await workspaceRoot(path.join(alias, 'notebooks', 'train.ipynb'), {
      workspace: alias,
      env,
    });
    expect(viaAlias.root).toBe(repo);
    expect(viaAlias.notebookRel).toBe('notebooks/train.ipynb');
    const git = await workspaceRoot(path.join(alias, 'notebooks', 'train.ipynb'), { env });
    expect(git).toMatchObject({ root: repo, source: 'git', cwdRel: 'notebooks' });
  });

  it('refuses a notebook that does not exist', async () => {
    const err = await workspaceRoot(path.join(dir(), 'nope.ipynb'), { env }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotebookInvalidError);
  });
});
