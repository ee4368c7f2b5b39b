/**
 * Short reasons for the messages of errors nbstage raises about files it reads: why a read
 * failed, and the first line of a parser's (often multi-line) message.
 */

/**
 * Why reading a file failed, in a few words: `no such file`, `is a directory`, `permission
 * denied`, else the error's own message.
 */
export function readFailureReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
      return 'permission denied';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** The first line of an error's message (JSON and YAML parsers write several). */
export function firstLineOfMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n', 1)[0] ?? message;
}
