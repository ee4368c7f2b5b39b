/**
 * Files only their owner may read, written atomically, and a lock file that serializes the
 * read-modify-write cycles of several processes (the service and `nbstage token` commands) on
 * the same file.
 */
import { writeFileAtomic } from '../../pipelines/notebook/io';

/** Mode of the files this module writes: read and write for the owner only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of directories it creates. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes a file atomically with mode 0600: the data goes to a temporary file (created 0600, so
 * the contents are never readable by others, not even for a moment) in the same directory, is
 * flushed to disk, then renamed over the target. Missing parent directories are created 0700.
 *
 * @param file - the target path
 * @param data - the contents (strings are written as UTF-8)
 */
export async function writePrivateFileAtomic(file: string, data: string | Buffer): Promise<void> {
  await writeFileAtomic(file, data, { mode: PRIVATE_FILE_MODE, dirMode: PRIVATE_DIR_MODE });
}

export { withFileLock, type FileLockOptions } from '../../pipelines/file-lock';
