/**
 * The version store's contract: every finished run of a job is kept as one git commit (the
 * executed notebook and its `run.json`), tagged per build, and can be listed, shown and
 * compared. The git implementation is `git-version-store.ts`; the service, the CLI and the
 * workers only see this interface.
 */
import type { JSONObject, Notebook } from '../../pipelines/notebook/model';
import type { NotebookDiff } from './notebook-diff';

export type {
  CellChange,
  DiffLine,
  NotebookDiff,
  OutputChange,
  ValueChange,
} from './notebook-diff';

/** A file the notebook wrote into `$NBSTAGE_ARTIFACTS`. */
export interface ArtifactInput {
  /** Its name relative to the artifacts folder (`plots/loss.png`); must not escape it. */
  name: string;
  /** Where to read it from now. */
  path: string;
}

/** An artifact as recorded in `run.json`: its content lives at `artifacts/sha256/<sha256>`. */
export interface StoredArtifact {
  name: string;
  sha256: string;
  /** Bytes. */
  size: number;
}

/** One finished run to keep. */
export interface RunVersionInput {
  /** The Jenkins full name: folders (`team/ml/train`), spaces, any Unicode. */
  job: string;
  /** The build (`42`). */
  build: string;
  runId: string;
  /** The stage this run executed; each stage of a build adds a commit, the tag follows. */
  stage?: string | null;
  /** The executed (already masked) notebook. */
  notebook: Notebook;
  /** The run record: status, timings, parameters (masked), kernel, exception, metrics, ... */
  run: JSONObject;
  /** Files to store content-addressed; their list (name, sha256, size) goes into run.json. */
  artifacts?: ArtifactInput[];
  /** Who ran it (a Jenkins user id, or `Name <email>`); default `nbstage`. */
  author?: string;
  /** The run's workspace manifest (canonical JSON), kept beside run.json as `inputs.json`. */
  inputs?: string;
}

/** Where a committed version landed. */
export interface CommitResult {
  /** The commit id. */
  commit: string;
  /** The build's tag, without `refs/tags/` (`team/ml/train/42`). */
  tag: string;
  /** The job's branch, in full (`refs/heads/jobs/team/ml/train`). */
  ref: string;
}

/** One build of a job, as `listBuilds` reports it. */
export interface BuildVersion {
  build: string;
  /** The build's newest commit (what its tag points at). */
  commit: string;
  /** The build's tag, without `refs/tags/`. */
  tag: string;
  /** `completed` when every stage completed, else the status of its last stage that did not. */
  status: string;
  /** ISO time the build's first stored run started (or was committed). */
  time: string;
  /** Seconds, summed over the build's runs; null when none recorded a duration. */
  duration: number | null;
  /** The stages, in the order they were stored (empty for a whole-notebook run). */
  stages: string[];
  /** Metrics of all its runs; a later stage's value wins. */
  metrics: JSONObject;
  /**
   * Whether its checks passed (run.json `checks.passed`): false when any of its runs' checks
   * failed, null when none was checked.
   */
  checksPassed: boolean | null;
  /** Run ids, oldest first. */
  runIds: string[];
  /** The Jenkins build page of its newest run that recorded one (`run.json` `jenkins.buildUrl`). */
  jenkinsUrl: string | null;
  /** Its commits, newest first. */
  commits: string[];
}

/** One stored version: the executed notebook and its run record. */
export interface ShownVersion {
  notebook: Notebook;
  run: JSONObject;
  commit: string;
  /** The build's tag, without `refs/tags/`. */
  tag: string;
}

/** The executed notebooks of every job and build, versioned. */
export interface VersionStore {
  /**
   * Stores a finished run (any status) as a new commit on the job's branch and points the
   * build's tag at it. Artifacts are stored first; the ref update is the commit point.
   *
   * @throws ValidationError for a bad job or build name or an artifact name that escapes
   */
  commitRun(input: RunVersionInput): Promise<CommitResult>;
  /** Every job with at least one version, sorted. */
  listJobs(): Promise<string[]>;
  /**
   * The builds of a job, newest first (highest build number).
   *
   * @throws NotFoundError for a job without versions
   */
  listBuilds(job: string): Promise<BuildVersion[]>;
  /**
   * The newest version of a build.
   *
   * @throws NotFoundError for an unknown job or build
   */
  show(job: string, build: string): Promise<ShownVersion>;
  /**
   * What changed from build A to build B: cell sources, outputs, metrics, parameters, status.
   *
   * @throws NotFoundError for an unknown job or build
   */
  diff(job: string, buildA: string, buildB: string): Promise<NotebookDiff>;
  /** The file of a stored artifact, or null when the store does not have it. */
  artifactPath(sha256: string): string | null;
  /** Finishes pending writes, packs what this store wrote; idempotent. */
  close(): Promise<void>;
}
