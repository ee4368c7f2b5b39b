/**
 * The version store on git: a bare repository `history.git` in the nbstage home, written with
 * plumbing only (no work tree, no index). Each version is a commit of `notebook.ipynb` and
 * `run.json` on `refs/heads/jobs/<job path>`, tagged `<job path>/<build>`; artifacts live beside
 * it in an {@link ArtifactStore}. Writers are serialized by a {@link WriteLock}; the one
 * transaction that moves the branch and the tag is the commit point, so a writer killed at any
 * moment leaves either the whole version or none of it. What this store wrote is packed with
 * deltas (every `packEvery` loose objects and on close), so a build that changes one metric
 * costs a few hundred bytes.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InternalError, NotFoundError, NotebookInvalidError } from '../../pipelines/errors';
import type { JSONObject, Notebook } from '../../pipelines/notebook/model';
import { serializeNotebook } from '../../pipelines/notebook/io';
import { parseNotebook } from '../../pipelines/notebook/validate';
import { ArtifactStore } from './artifact-store';
import { compareBuildsDesc, summarizeBuild, type StoredRun } from './build-summary';
import type { GitRunner } from './git-runner';
import { createGitRunner } from './git-runner';
import {
  commitTree,
  countObjects,
  listRefs,
  mkTree,
  packAll,
  readObjects,
  resolveRefs,
  revList,
  updateRefs,
  writeBlob,
} from './git-plumbing';
import type { NotebookDiff } from './notebook-diff';
import { diffVersions } from './notebook-diff';
import {
  TAG_PREFIX,
  branchRef,
  isHashedJobPath,
  jobNameOfPath,
  tagName,
  validateBuildName,
} from './ref-names';
import {
  buildRunRecord,
  commitMessage,
  parseStoredRun,
  serializeRunRecord,
  stringField,
  validateRunInput,
} from './run-record';
import type {
  BuildVersion,
  CommitResult,
  RunVersionInput,
  ShownVersion,
  StoredArtifact,
  VersionStore,
} from './types';
import { findJobPath, jobPathForWrite, readJobRefs } from './job-paths';
import {
  LAYOUT_VERSION,
  REPO_CONFIG,
  removeStaleGitLocks,
  sweepArtifactTemps,
} from './repository-upkeep';
import { WriteLock } from './write-lock';

/** The repository's folder name in the home. */
export const HISTORY_DIR = 'history.git';
/** The artifacts' folder name in the home. */
export const ARTIFACTS_DIR = 'artifacts';
/** The writers' lock file in the home. */
export const LOCK_FILE = 'history.lock';

const NOTEBOOK_FILE = 'notebook.ipynb';
const RUN_FILE = 'run.json';
/** A version's workspace manifest: the exact inputs of the run, by content. */
export const INPUTS_FILE = 'inputs.json';
/** Ref moves retried when another writer got in between (only without the lock file). */
const MAX_ATTEMPTS = 5;

/** Options of {@link openVersionStore}. */
export interface VersionStoreOptions {
  /** Git access (default: the real `git` on `<home>/history.git`). */
  git?: GitRunner;
  /** Create the repository when it is missing (default true); false: NotFoundError instead. */
  create?: boolean;
  /** How long a writer waits for another process's lock (default 60 s). */
  lockTimeoutMs?: number;
  /** Pack once this many loose objects were written (default 400, about 100 versions). */
  packEvery?: number;
  /** Pack what this store wrote when it is closed (default true). */
  packOnClose?: boolean;
  /** The clock (commit dates). */
  now?: () => Date;
}

/** Author `Name <email>` or a bare name. */
function parseAuthor(author: string | undefined): { name: string; email: string } {
  const m = author === undefined ? null : /^\s*(.*?)\s*<([^<>]*)>\s*$/.exec(author);
  if (m !== null) {
    return { name: m[1] === '' ? 'nbstage' : m[1], email: m[2] };
  }
  const name = author === undefined || author.trim() === '' ? 'nbstage' : author.trim();
  return { name, email: 'nbstage@localhost' };
}

/** The git implementation of {@link VersionStore}. */
export class GitVersionStore implements VersionStore {
  private readonly lock: WriteLock;
  private readonly artifacts: ArtifactStore;
  private readonly packEvery: number;
  private readonly packOnClose: boolean;
  private readonly now: () => Date;
  private looseWritten = 0;
  private wrote = false;
  private closed: Promise<void> | null = null;

  /** Use {@link openVersionStore}, which creates the repository first. */
  constructor(
    readonly home: string,
    private readonly git: GitRunner,
    options: VersionStoreOptions = {},
  ) {
    this.lock = new WriteLock(path.join(home, LOCK_FILE), {
      timeoutMs: options.lockTimeoutMs,
      onBrokenLock: () => removeStaleGitLocks(this.gitDir),
    });
    this.artifacts = new ArtifactStore(path.join(home, ARTIFACTS_DIR));
    this.packEvery = options.packEvery ?? 400;
    this.packOnClose = options.packOnClose ?? true;
    this.now = options.now ?? (() => new Date());
  }

  /** The repository folder. */
  get gitDir(): string {
    return this.git.gitDir;
  }

  /** Creates the repository when it is missing and (re)applies its settings; under the lock. */
  async init(create: boolean): Promise<void> {
    if (!existsSync(path.join(this.gitDir, 'HEAD'))) {
      if (!create) {
        throw new NotFoundError(`no version store at ${this.gitDir}`);
      }
      await mkdir(this.home, { recursive: true });
      await this.lock.run(async () => {
        if (!existsSync(path.join(this.gitDir, 'HEAD'))) {
          // No templates: no sample hooks, nothing from the machine's git installation.
          await this.git.run(['init', '--bare', '--quiet', '--template=']);
        }
      });
    }
    const layout = await this.git.run(['config', '--get', 'nbstage.layout'], {
      allowFailure: true,
    });
    if (layout.stdout.toString().trim() !== LAYOUT_VERSION && create) {
      await this.lock.run(async () => {
        for (const [key, value] of REPO_CONFIG) {
          await this.git.run(['config', key, value]);
        }
      });
    }
  }

  async commitRun(raw: RunVersionInput): Promise<CommitResult> {
    if (this.closed !== null) {
      throw new InternalError('the version store is closed');
    }
    const input = validateRunInput(raw);
    // Artifacts are content-addressed and written atomically: no lock needed.
    const stored: StoredArtifact[] | undefined =
      input.artifacts === undefined ? undefined : await this.artifacts.putAll(input.artifacts);
    const record = buildRunRecord(input, stored);
    const notebookText = serializeNotebook(input.notebook);
    const runText = serializeRunRecord(record);
    const message = commitMessage(input, input.notebook);
    const who = parseAuthor(input.author);

    return this.lock.run(async () => {
      const nbBlob = await writeBlob(this.git, notebookText);
      const runBlob = await writeBlob(this.git, runText);
      const entries = [
        { name: NOTEBOOK_FILE, blob: nbBlob },
        { name: RUN_FILE, blob: runBlob },
      ];
      if (input.inputs !== undefined) {
        entries.push({ name: INPUTS_FILE, blob: await writeBlob(this.git, input.inputs) });
      }
      const tree = await mkTree(this.git, entries);
      for (let attempt = 1; ; attempt++) {
        const refs = await this.jobRefs();
        const jobPath = jobPathForWrite(input.job, refs);
        const branch = branchRef(jobPath);
        const tag = tagName(jobPath, input.build);
        const parent = refs.get(jobPath) ?? null;
        const date = this.now();
        const commit = await commitTree(
          this.git,
          tree,
          parent === null ? [] : [parent],
          message,
          { ...who, date },
          { name: 'nbstage', email: 'nbstage@localhost', date },
        );
        // The branch moves only from where it was seen. A build's tag moves only together with
        // its job's branch, so when the branch has not moved, neither has the tag.
        const moved = await updateRefs(this.git, [
          { ref: branch, next: commit, old: parent },
          { ref: `${TAG_PREFIX}${tag}`, next: commit },
        ]);
        if (moved) {
          this.wrote = true;
          this.looseWritten += 4;
          await this.maybePack();
          return { commit, tag, ref: branch };
        }
        if (attempt >= MAX_ATTEMPTS) {
          throw new InternalError(
            `${branch} kept moving under this writer; gave up after ${attempt} attempts`,
          );
        }
      }
    });
  }

  async listJobs(): Promise<string[]> {
    const refs = await this.jobRefs();
    const names: string[] = [];
    const hashed: string[] = [];
    for (const jobPath of refs.keys()) {
      const name = jobNameOfPath(jobPath);
      if (name !== null) {
        names.push(name);
      } else if (isHashedJobPath(jobPath)) {
        hashed.push(jobPath);
      }
    }
    const runs = await readObjects(
      this.git,
      hashed.map((p) => `${branchRef(p)}:${RUN_FILE}`),
    );
    runs.forEach((data, i) => {
      if (data !== null) {
        names.push(
          stringField(this.parseRun(data, `${branchRef(hashed[i])}:${RUN_FILE}`), 'job') ?? '',
        );
      }
    });
    return names.filter((n) => n !== '').sort();
  }

  async listBuilds(job: string): Promise<BuildVersion[]> {
    const jobPath = await this.requireJobPath(job);
    const branch = branchRef(jobPath);
    const commits = await revList(this.git, branch);
    const data = await readObjects(
      this.git,
      commits.map((c) => `${c.commit}:${RUN_FILE}`),
    );
    const runs: StoredRun[] = commits.map((c, i) => {
      const blob = data[i];
      if (blob === null) {
        throw new InternalError(
          `${this.gitDir}: commit ${c.commit} of ${branch} has no ${RUN_FILE}`,
        );
      }
      return { ...c, run: this.parseRun(blob, `${c.commit}:${RUN_FILE}`) };
    });
    const tags = new Map(
      (await listRefs(this.git, [`${TAG_PREFIX}${jobPath}/`])).map((e) => [e.ref, e.oid]),
    );
    // Group by build; `runs` is newest first.
    const byBuild = new Map<string, StoredRun[]>();
    for (const run of runs) {
      const build = stringField(run.run, 'build') ?? '';
      byBuild.set(build, [...(byBuild.get(build) ?? []), run]);
    }
    const builds: BuildVersion[] = [];
    for (const [build, newestFirst] of byBuild) {
      const tag = tagName(jobPath, build);
      builds.push(summarizeBuild(build, tag, tags.get(`${TAG_PREFIX}${tag}`), newestFirst));
    }
    return builds.sort((a, b) => compareBuildsDesc(a.build, b.build));
  }

  async show(job: string, build: string): Promise<ShownVersion> {
    validateBuildName(build);
    const jobPath = await this.requireJobPath(job);
    const tag = tagName(jobPath, build);
    const tagRef = `${TAG_PREFIX}${tag}`;
    const commit = (await resolveRefs(this.git, [tagRef])).get(tagRef);
    if (commit === undefined) {
      throw new NotFoundError(`job ${JSON.stringify(job)} has no build ${JSON.stringify(build)}`);
    }
    const [nbData, runData] = await readObjects(this.git, [
      `${commit}:${NOTEBOOK_FILE}`,
      `${commit}:${RUN_FILE}`,
    ]);
    if (nbData === null || runData === null) {
      throw new InternalError(
        `${this.gitDir}: commit ${commit} lacks ${NOTEBOOK_FILE} or ${RUN_FILE}`,
      );
    }
    return {
      notebook: this.parseNotebook(nbData, `${commit}:${NOTEBOOK_FILE}`),
      run: this.parseRun(runData, `${commit}:${RUN_FILE}`),
      commit,
      tag,
    };
  }

  async diff(job: string, buildA: string, buildB: string): Promise<NotebookDiff> {
    const [a, b] = await Promise.all([this.show(job, buildA), this.show(job, buildB)]);
    return diffVersions(
      job,
      { build: buildA, commit: a.commit, notebook: a.notebook, run: a.run },
      { build: buildB, commit: b.commit, notebook: b.notebook, run: b.run },
    );
  }

  artifactPath(sha256: string): string | null {
    return this.artifacts.find(sha256);
  }

  close(): Promise<void> {
    if (this.closed === null) {
      this.closed = (async () => {
        await this.lock.idle();
        // A store that only read never takes the lock.
        if (this.wrote && this.packOnClose) {
          await this.lock.run(async () => {
            const counts = await countObjects(this.git);
            if (counts.loose > 0 || counts.packs > 1) {
              await packAll(this.git);
            }
          });
        }
      })();
    }
    return this.closed;
  }

  /** Packs once enough loose objects piled up (called under the lock). */
  private async maybePack(): Promise<void> {
    if (this.looseWritten < this.packEvery) {
      return;
    }
    await packAll(this.git);
    this.looseWritten = 0;
  }

  /** Job paths (without `refs/heads/jobs/`) -> their tip commit. */
  private jobRefs(): Promise<Map<string, string>> {
    return readJobRefs(this.git);
  }

  private async requireJobPath(job: string): Promise<string> {
    const jobPath = findJobPath(job, await this.jobRefs());
    if (jobPath === null) {
      throw new NotFoundError(`no versions of job ${JSON.stringify(job)}`);
    }
    return jobPath;
  }

  private parseRun(data: Buffer, where: string): JSONObject {
    return parseStoredRun(data.toString('utf8'), `${this.gitDir} ${where}`);
  }

  private parseNotebook(data: Buffer, where: string): Notebook {
    try {
      return parseNotebook(data.toString('utf8'), `${this.gitDir} ${where}`);
    } catch (err) {
      if (err instanceof NotebookInvalidError) {
        throw new InternalError(`stored notebook is unreadable: ${err.message}`);
      }
      throw err;
    }
  }
}

/**
 * Opens (creating when missing, unless `create: false`) the version store of an nbstage home:
 * `<home>/history.git` and `<home>/artifacts`.
 *
 * @throws NotFoundError with `create: false` when there is no store in `home`
 */
export async function openVersionStore(
  home: string,
  options: VersionStoreOptions = {},
): Promise<VersionStore> {
  const root = path.resolve(home);
  const git = options.git ?? createGitRunner(path.join(root, HISTORY_DIR));
  const store = new GitVersionStore(root, git, options);
  await store.init(options.create ?? true);
  await sweepArtifactTemps(path.join(root, ARTIFACTS_DIR, 'tmp'));
  return store;
}
