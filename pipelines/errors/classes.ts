/**
 * The error classes of nbstage. Every error has a stable `code` (NBSTAGE_...); its exit code and
 * HTTP status come from the catalogue. Callers match on `code` or on the class, never on the
 * message. The README's error table lists every code (a test checks it).
 */
import { ErrorCode, catalogueEntry, type ErrorCodeValue, type ExitCodeValue } from './catalogue';

/**
 * Base class: a code, an exit code and an HTTP status. The exit code and status default to the
 * catalogue's for the code; an error the service sent keeps the status it came with.
 */
export class NbstageError extends Error {
  /** Stable machine-readable code, `NBSTAGE_...`. */
  readonly code: string;
  /** Exit code of the CLI when this error ends a run. */
  readonly exitCode: ExitCodeValue;
  /** HTTP status of the service when this error answers a request. */
  readonly status: number;

  constructor(
    code: string,
    message: string,
    exitCode: ExitCodeValue = catalogueEntry(code).exit,
    status: number = catalogueEntry(code).status,
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.status = status;
  }

  /** The JSON body of an HTTP error answer. */
  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/**
 * The base of an error class whose errors carry only a message and `code`; the subclass adds its
 * name and documentation: `class UsageError extends withCode(ErrorCode.usage) {}`.
 */
function withCode(code: ErrorCodeValue): new (message: string) => NbstageError {
  return class extends NbstageError {
    constructor(message: string) {
      super(code, message);
    }
  };
}

/** Command-line usage is wrong (unknown flag, missing argument, `-p` without `=`). */
export class UsageError extends withCode(ErrorCode.usage) {}

/** A notebook or note cannot be read: missing file, not JSON, or not valid against the schema. */
export class NotebookInvalidError extends withCode(ErrorCode.notebookInvalid) {}

/** A request or payload failed validation; `field` names the offending field. */
export class ValidationError extends NbstageError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(ErrorCode.validation, message);
    this.field = field;
  }
}

/**
 * A workspace cannot be sent or written as it is: a name that is not valid UTF-8 or that would
 * leave the root, a path that goes through a symlink, a folder where a file belongs (code
 * NBSTAGE_VALIDATION, exit 2, HTTP 400). `field` is `workspace` unless an option is to blame
 * (`--workspace`); `path` is the offending path inside the workspace, escaped so that it is
 * printable (bytes that are not UTF-8 as `\xNN`), when one path is the reason.
 */
export class WorkspaceError extends ValidationError {
  readonly path: string | undefined;
  constructor(message: string, options: { field?: string; path?: string } = {}) {
    super(options.field ?? 'workspace', message);
    this.path = options.path;
  }
}

/** One of the entries a {@link WorkspaceLimitError} names: a file or a top-level folder (`data/`). */
export interface WorkspaceEntrySize {
  /** The path inside the workspace; a folder's ends with `/`. */
  readonly path: string;
  /** Bytes (or, for the file-count limit, files) it holds. */
  readonly amount: number;
}

/**
 * A workspace holds more bytes than `--max-workspace` allows, or more files than the file limit,
 * found before any file was read. `largest` are the entries that weigh most (files and top-level
 * folders), so the message can say what to exclude.
 */
export class WorkspaceLimitError extends WorkspaceError {
  readonly limit: 'bytes' | 'files';
  readonly max: number;
  readonly total: number;
  readonly largest: readonly WorkspaceEntrySize[];
  constructor(
    limit: 'bytes' | 'files',
    max: number,
    total: number,
    largest: readonly WorkspaceEntrySize[],
    message: string,
  ) {
    super(message);
    this.limit = limit;
    this.max = max;
    this.total = total;
    this.largest = largest;
  }
}

/**
 * Content that arrived does not have the sha256 it was announced with (field `sha256`, HTTP
 * 400); nothing was stored. Both digests are in the message and on the error.
 */
export class DigestMismatchError extends ValidationError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string) {
    super(
      'sha256',
      `sha256: the content has sha256 ${actual}, not the announced ${expected}; nothing was stored`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** A parameter is malformed or has a value the kernel language cannot express. */
export class ParameterError extends withCode(ErrorCode.parameterInvalid) {}

/** The requested kernelspec is not offered by the Jupyter server. */
export class KernelNotFoundError extends withCode(ErrorCode.kernelNotFound) {}

/** A requested stage does not exist in the notebook. */
export class StageNotFoundError extends withCode(ErrorCode.stageNotFound) {}

/** A cell raised an error (papermill's PapermillExecutionError). */
export class CellExecutionError extends NbstageError {
  readonly cellIndex: number;
  readonly ename: string;
  readonly evalue: string;
  readonly traceback: string[];
  /** `hint`: what the message adds in brackets (the memory limit of a MemoryError). */
  constructor(
    cellIndex: number,
    ename: string,
    evalue: string,
    traceback: string[],
    hint?: string,
  ) {
    super(
      ErrorCode.cellFailed,
      hint === undefined
        ? `cell ${cellIndex} raised ${ename}: ${evalue}`
        : `cell ${cellIndex} raised ${ename}${evalue === '' ? '' : `: ${evalue}`} (${hint})`,
    );
    this.cellIndex = cellIndex;
    this.ename = ename;
    this.evalue = evalue;
    this.traceback = traceback;
  }
}

/** A cell ran past `--cell-timeout`, or the run past `--timeout`. */
export class TimeoutError extends NbstageError {
  readonly cellIndex: number | undefined;
  readonly scope: 'cell' | 'run';
  constructor(scope: 'cell' | 'run', seconds: number, cellIndex?: number) {
    super(
      scope === 'cell' ? ErrorCode.cellTimeout : ErrorCode.runTimeout,
      scope === 'cell'
        ? `cell ${cellIndex} timed out after ${seconds} s`
        : `run timed out after ${seconds} s` +
            (cellIndex === undefined ? '' : ` (in cell ${cellIndex})`),
    );
    this.scope = scope;
    this.cellIndex = cellIndex;
  }
}

/** The kernel process died or was restarted under the run. */
export class KernelDiedError extends NbstageError {
  readonly cellIndex: number | undefined;
  constructor(message: string, cellIndex?: number) {
    super(ErrorCode.kernelDied, message);
    this.cellIndex = cellIndex;
  }
}

/** The Jupyter server (or the nbstage service) cannot be started or reached. */
export class UnreachableError extends withCode(ErrorCode.unreachable) {}

/** The run was cancelled (SIGINT/SIGTERM, or an API cancel). */
export class CancelledError extends NbstageError {
  constructor(message = 'run cancelled') {
    super(ErrorCode.cancelled, message);
  }
}

/** Anything unexpected; a bug in nbstage. */
export class InternalError extends withCode(ErrorCode.internal) {}

/**
 * Every cell ran, but a check failed: a cell's outputs differ from the baseline's, or a metric
 * gate did not hold (exit 6; `nbstageRun` marks the stage UNSTABLE).
 */
export class CheckFailedError extends withCode(ErrorCode.checkFailed) {}

/** Wraps anything thrown into an {@link NbstageError}. */
export function asNbstageError(err: unknown): NbstageError {
  if (err instanceof NbstageError) {
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message);
}

/** A request to the service has no token, or one that is unknown or revoked (HTTP 401). */
export class AuthError extends NbstageError {
  constructor(message = 'missing or invalid token') {
    super(ErrorCode.unauthorized, message);
  }
}

/** The request's token is valid but its role is not enough; `needed` names the role (HTTP 403). */
export class ForbiddenError extends NbstageError {
  readonly needed: string;
  constructor(needed: string, message: string) {
    super(ErrorCode.forbidden, message);
    this.needed = needed;
  }
}

/**
 * Too many requests from one principal or address (HTTP 429); `retryAfterSeconds` says when to
 * try again. The CLI treats it like an unreachable server (exit 5): nothing was wrong with the
 * input, and the same command works later.
 */
export class RateLimitedError extends NbstageError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(ErrorCode.rateLimited, `too many requests; retry after ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A state file of nbstage's home (such as `tokens.json`) is not what nbstage wrote: not JSON, or
 * invalid against its schema. `file` and `field` say where (HTTP 500: the server's fault, not
 * the request's; CLI exit 2).
 */
export class CorruptedFileError extends NbstageError {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, message: string) {
    super(ErrorCode.fileCorrupted, message);
    this.file = file;
    this.field = field;
  }
}

/**
 * A job, build or other named thing does not exist (HTTP 404; CLI exit 2, like any bad input):
 * `nbstage show` of a build the version store has never seen, for example.
 */
export class NotFoundError extends withCode(ErrorCode.notFound) {}

/**
 * The version store stayed locked by another live writer for longer than the wait allows (HTTP
 * 503; CLI exit 5): nothing was wrong with the request, and the same command works later.
 */
export class StoreBusyError extends withCode(ErrorCode.storeBusy) {}

/** A request body or upload is larger than the service accepts. */
export class PayloadTooLargeError extends withCode(ErrorCode.payloadTooLarge) {}

/** The service is shutting down or not ready to take work. */
export class UnavailableError extends withCode(ErrorCode.unavailable) {}

/**
 * The service has no Jenkins configured (`NBSTAGE_JENKINS_URL`, `NBSTAGE_JENKINS_USER`,
 * `NBSTAGE_JENKINS_TOKEN`), so it cannot submit jobs (HTTP 503; CLI exit 5).
 */
export class JenkinsNotConfiguredError extends NbstageError {
  constructor(
    message = 'Jenkins is not configured on this service: set NBSTAGE_JENKINS_URL, NBSTAGE_JENKINS_USER and NBSTAGE_JENKINS_TOKEN',
  ) {
    super(ErrorCode.jenkinsNotConfigured, message);
  }
}

/** Jenkins cannot be reached: connection refused, timeout, unknown host (HTTP 502; CLI exit 5). */
export class JenkinsUnreachableError extends withCode(ErrorCode.jenkinsUnreachable) {}

/**
 * Jenkins refused a request (401/403 for credentials, permissions or the CSRF crumb, 404, 5xx)
 * or answered with JSON nbstage does not understand (HTTP 502; CLI exit 5). `jenkinsStatus` is
 * Jenkins' HTTP status, or null when the answer itself was the problem. The message names the
 * request, never the credentials.
 */
export class JenkinsError extends NbstageError {
  readonly jenkinsStatus: number | null;
  constructor(message: string, jenkinsStatus: number | null = null) {
    super(ErrorCode.jenkinsError, message);
    this.jenkinsStatus = typeof jenkinsStatus === 'number' ? jenkinsStatus : null;
  }
}

/** A Jenkins build ended `FAILURE`, `UNSTABLE` or `NOT_BUILT` (HTTP 422; CLI exit 1). */
export class BuildFailedError extends withCode(ErrorCode.buildFailed) {}
