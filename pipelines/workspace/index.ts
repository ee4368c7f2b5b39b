/**
 * Workspaces: the files beside a notebook that a run through the service must see, and the
 * files it writes that must come back. The root of a notebook's workspace, the scan of its tree
 * into a manifest (by content, with a hash cache), the manifest's canonical form and checks, a
 * content-addressed blob folder, materializing a manifest into a run's copy (or bringing a kept
 * copy back to a manifest), and the changes a run made, written back into the caller's root. No
 * HTTP, no service: the layers that send, store and run build on this one.
 */
export * from './blob-dir';
export * from './changes';
export { BUILTIN_EXCLUDES, IGNORE_FILE, loadExcludeRules, outputSelector } from './excludes';
export type { ExcludeRules } from './excludes';
export type { FileHash, FileHasher } from './hasher';
export { hashRegularFile, sha256File } from './hasher';
export { defaultCacheDir, hashCacheFile } from './hash-cache';
export {
  DEFAULT_MAX_WORKSPACE_BYTES,
  DEFAULT_MAX_WORKSPACE_FILES,
  MAX_WORKSPACE_PATH_LENGTH,
} from './limits';
export * from './manifest';
export * from './materialize';
export * from './root';
export { removeEntry } from './safe-write';
export * from './scan';
export * from './sync-tree';
export * from './validate-manifest';
export * from './write-back';
