/**
 * A worker's kept copies of workspaces: the tree a run of a job left is given to the next run
 * of the same job (the same key) on this worker, brought back to the new manifest by `syncTree`
 * so that only what differs is written. A tree is never shared: while one run holds it, a second
 * checkout of its key gets a tree of its own. Trees beyond the most kept are removed, the least
 * recently used idle one first; a tree whose sync failed is removed at once. Names on disk are
 * hashes of the keys, never the keys.
 */
import { createHash } from 'node:crypto';
import { readdirSync, rmdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UnavailableError, UsageError } from '../../pipelines/errors';
import {
  removeEntry,
  syncTree,
  type BlobSource,
  type Manifest,
  type SyncTreeOptions,
  type TreeState,
} from '../../pipelines/workspace';

/** How many trees a worker keeps unless told otherwise (`NBSTAGE_WORKSPACE_TREES`). */
export const DEFAULT_WORKSPACE_TREES = 8;

/** The names of trees on disk: 32 hex digits of the key's sha256, `-`, a serial number. */
const TREE_NAME = /^[0-9a-f]{32}-[0-9]+$/;

/** Options of {@link WorkspaceTrees}. */
export interface WorkspaceTreesOptions {
  /** The most trees kept, idle or in use (in use ones are never removed); default 8. */
  readonly maxTrees?: number;
  /** Passed to `syncTree`. */
  readonly sync?: SyncTreeOptions;
  /** Told of a tree that could not be removed (it stays on disk, forgotten). */
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A tree handed to one run by {@link WorkspaceTrees.checkout}. */
export interface CheckedOutTree {
  /** The folder holding exactly the manifest, the run's copy of its workspace. */
  readonly dir: string;
  /** What the folder holds, for `treeStateAfter` (and `treeWrittenStats`) after the run. */
  readonly state: TreeState;
  /** Whether a tree an earlier run left was reused (else a new one was written). */
  readonly reused: boolean;
  /** Files and symlinks written by the sync. */
  readonly rewritten: number;
  /** Entries the sync removed. */
  readonly removed: number;
  /** Files and symlinks the sync kept. */
  readonly kept: number;
  /**
   * Gives the tree back once the run is over and its processes are gone: `after` is what it
   * holds now (`treeStateAfter`), or null when that is not known (the next sync of this tree
   * then writes every file). Later calls do nothing.
   */
  release(after: TreeState | null): void;
}

interface Tree {
  readonly name: string;
  readonly dir: string;
  readonly keyHash: string;
  /** What the tree holds while idle; null: unknown, every file is written at the next sync. */
  state: TreeState | null;
  busy: boolean;
  /** When it was last given back (a counter). */
  lastUsed: number;
}

/** The part of a tree's name that comes from its key. */
function hashOfKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32);
}

/**
 * The kept trees of one worker under one folder, which this object owns: trees an earlier
 * process left there are removed before the first checkout (their state was not kept), and
 * {@link close} removes them all.
 */
export class WorkspaceTrees {
  private readonly trees = new Map<string, Tree>();
  private readonly maxTrees: number;
  private readonly work = new Set<Promise<unknown>>();
  private started: Promise<void> | null = null;
  private serial = 0;
  private clock = 0;
  private closed = false;

  /**
   * @param root - the folder of the trees (`<workDir>/trees`), made when missing
   * @throws UsageError for a `maxTrees` that is not a positive integer
   */
  constructor(
    readonly root: string,
    private readonly options: WorkspaceTreesOptions = {},
  ) {
    this.maxTrees = options.maxTrees ?? DEFAULT_WORKSPACE_TREES;
    if (!Number.isInteger(this.maxTrees) || this.maxTrees < 1) {
      throw new UsageError(
        `workspace trees: maxTrees must be a positive integer, not ${String(options.maxTrees)}`,
      );
    }
  }

  /** The trees on disk, idle or in use. */
  get size(): number {
    return this.trees.size;
  }

  /**
   * A tree holding exactly `manifest`: the idle tree of `key` used last, synced (only what
   * differs is written), or a new one when the key has none idle. Hold it for one run and
   * {@link CheckedOutTree.release} it. A tree whose sync fails is removed and the sync's error
   * thrown.
   *
   * @throws UnavailableError once closed; syncTree's errors (NotFoundError for content `blobs`
   *   lacks, naming the path)
   */
  async checkout(key: string, manifest: Manifest, blobs: BlobSource): Promise<CheckedOutTree> {
    this.assertOpen();
    await this.start();
    this.assertOpen();
    const keyHash = hashOfKey(key);
    let tree: Tree | undefined;
    for (const candidate of this.trees.values()) {
      if (
        candidate.keyHash === keyHash &&
        !candidate.busy &&
        (tree === undefined || candidate.lastUsed > tree.lastUsed)
      ) {
        tree = candidate;
      }
    }
    const reused = tree !== undefined;
    if (tree === undefined) {
      const name = `${keyHash}-${++this.serial}`;
      tree = {
        name,
        dir: path.join(this.root, name),
        keyHash,
        state: null,
        busy: true,
        lastUsed: 0,
      };
      this.trees.set(name, tree);
      this.evict();
    }
    const held = tree;
    held.busy = true;
    const previous = held.state;
    held.state = null;
    let result;
    try {
      result = await this.track(syncTree(held.dir, manifest, blobs, previous, this.options.sync));
    } catch (err) {
      await this.forget(held);
      throw err;
    }
    this.assertOpen();
    let released = false;
    return {
      dir: held.dir,
      state: result.state,
      reused,
      rewritten: result.rewritten,
      removed: result.removed,
      kept: result.kept,
      release: (after) => {
        if (released || this.trees.get(held.name) !== held) {
          return;
        }
        released = true;
        held.busy = false;
        held.state = after;
        held.lastUsed = ++this.clock;
        this.evict();
      },
    };
  }

  /**
   * Removes every tree (also those still held: close once the runs are over) and the folder
   * when nothing else is in it; later checkouts fail. Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
    await Promise.all([...this.trees.values()].map((tree) => this.forget(tree)));
    try {
      rmdirSync(this.root);
    } catch {
      // not there, or holds what is not ours
    }
  }

  /** Resolves once no sync and no removal of a tree is in flight (what {@link close} waits for). */
  async settled(): Promise<void> {
    while (this.work.size > 0) {
      await Promise.allSettled([...this.work]);
    }
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new UnavailableError('workspace trees: closed');
    }
  }

  /** Makes the folder and removes the trees an earlier process left, once. */
  private start(): Promise<void> {
    this.started ??= this.track(
      (async () => {
        await mkdir(this.root, { recursive: true });
        for (const name of readdirSync(this.root)) {
          if (TREE_NAME.test(name)) {
            await removeEntry(path.join(this.root, name));
          }
        }
      })(),
    );
    return this.started;
  }

  /** Removes the least recently used idle trees while there are more than the most kept. */
  private evict(): void {
    const idle = [...this.trees.values()]
      .filter((t) => !t.busy)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.trees.size > this.maxTrees && idle.length > 0) {
      void this.forget(idle.shift() as Tree);
    }
  }

  /**
   * Drops a tree from the map at once and removes its folder (in the background unless the
   * caller waits); a folder that cannot be removed is logged and left.
   */
  private forget(tree: Tree): Promise<void> {
    this.trees.delete(tree.name);
    return this.track(
      removeEntry(tree.dir).then(
        () => undefined,
        (err: unknown) => {
          this.options.log?.('workspace trees: a tree could not be removed', {
            dir: tree.dir,
            error: err instanceof Error ? err.message : String(err),
          });
        },
      ),
    );
  }

  /** `work`, remembered until it settles, so {@link close} can wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.work.add(work);
    const done = (): void => {
      this.work.delete(work);
    };
    work.then(done, done);
    return work;
  }
}
