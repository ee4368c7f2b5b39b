/**
 * `nbstage reproduce` without a service: the stored build is read from the home (`--home`, else
 * `NBSTAGE_HOME`, else `./.nbstage`; only read, so a service may be running on it), its
 * workspace written from the home's content store into a folder of its own by the manifest
 * digest it recorded, and its notebook run here, on kernels this process starts, with the same
 * request the service would queue (`server/runs/reproduce.ts`), checked against the stored
 * version. Nothing is stored: the reproduction is a run, not a build of the job (with the
 * service it is `<build>-repro-N`). The folder is removed once the run is over.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { environmentDiff, type EnvironmentDiff } from '../pipelines/environment/diff';
import type { NbstageError } from '../pipelines/errors';
import type { RunEventListener } from '../pipelines/executor/events';
import type { Notebook } from '../pipelines/notebook/model';
import { loadRun } from '../pipelines/runner';
import { BlobDir } from '../pipelines/workspace/blob-dir';
import { checkoutWorkspace } from '../server/runs/run-job-workspace';
import { runSpecOf } from '../server/runs/run-request';
import { reproductionRequest, type ReproduceRequest } from '../server/runs/reproduce';
import { ARTIFACTS_DIR, openVersionStore } from '../server/store/git-version-store';
import { environmentOf } from '../server/store/notebook-diff';
import { localContent } from '../server/workers/workspace-content';
import { resolveHome } from './history-commands';

/** What the local reproduction needs from the command. */
export interface LocalReproduction {
  home?: string;
  body: ReproduceRequest;
  /** The sinks, for the notebook's file name. */
  listeners: (notebookName: string) => RunEventListener[];
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  /** Says what happens, for people (nothing with --json). */
  say: (line: string) => void;
  warn: (line: string) => void;
  onListenerError: (err: unknown) => void;
}

/** How it went. */
export interface LocalOutcome {
  runId: string;
  status: string;
  error: NbstageError | null;
  notebook: Notebook;
  environment: EnvironmentDiff;
}

/**
 * Runs build `build` of `job` again here, from the home's store.
 *
 * @throws NotFoundError for an unknown job or build; ValidationError when it cannot be run again
 *   (secrets not given again, a build run in place, inputs the content store no longer has)
 */
export async function reproduceLocally(
  job: string,
  build: string,
  options: LocalReproduction,
): Promise<LocalOutcome> {
  const home = resolveHome({ home: options.home }, options.env);
  const store = await openVersionStore(home, { create: false });
  const shown = await store.show(job, build).finally(() => store.close());
  const request = reproductionRequest(job, build, shown, `${build}-repro`, options.body);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbstage-repro-'));
  try {
    options.say(
      `reproducing ${job} #${build} here (not stored as a build: that takes --server): its stored notebook, parameters and inputs`,
    );
    const copy =
      request.workspace === undefined
        ? null
        : await checkoutWorkspace(
            request.workspace,
            { root: path.join(dir, 'workspace') },
            localContent(new BlobDir(path.join(home, ARTIFACTS_DIR))),
          );
    const notebookName = path.basename(request.notebookName ?? 'notebook.ipynb');
    const notebookPath = path.join(dir, notebookName);
    fs.writeFileSync(notebookPath, JSON.stringify(request.notebook));
    const cwd = copy?.cwd ?? path.join(dir, 'run');
    fs.mkdirSync(cwd, { recursive: true });
    const run = await loadRun(
      runSpecOf(
        request,
        {
          notebookPath,
          runId: randomUUID(),
          cwd,
          artifactsDir: path.join(dir, 'artifacts'),
          fullOutputDir: path.join(dir, 'full-output'),
          environment: options.env,
        },
        { notebook: shown.notebook as never, label: `build ${build}` },
      ),
    );
    for (const warning of run.loaded.warnings) {
      options.warn(warning);
    }
    const { localTarget } = await import('../kernels/local-target');
    const target = localTarget({
      env: options.env,
      rootDir: cwd,
      session: false,
      sandbox: 'off',
      warn: options.warn,
      onListenerError: options.onListenerError,
    });
    try {
      const result = await target.run(run, options.listeners(notebookName), options.signal);
      return {
        runId: result.runId,
        status: result.status,
        error: result.error,
        notebook: result.notebook,
        environment: environmentDiff(
          environmentOf(shown.run, shown.notebook),
          result.notebook.metadata.nbstage?.environment,
        ),
      };
    } finally {
      await target.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
