/**
 * The catalogue of nbstage's error codes: each code (`NBSTAGE_...`) with the exit code of the CLI
 * and the HTTP status of the service, in one table. The error classes, the API client and the
 * README's error table all follow it (tests check the README and the Groovy step against it).
 */

/** Exit codes of `nbstage run`, as the README's table of exit codes lists them. */
export const ExitCode = {
  ok: 0,
  cellFailed: 1,
  badInput: 2,
  timeout: 3,
  kernelDied: 4,
  unreachable: 5,
  checkFailed: 6,
  cancelled: 130,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Every error code nbstage produces, by a name to use in code. */
export const ErrorCode = {
  usage: 'NBSTAGE_USAGE',
  notebookInvalid: 'NBSTAGE_NOTEBOOK_INVALID',
  validation: 'NBSTAGE_VALIDATION',
  parameterInvalid: 'NBSTAGE_PARAMETER_INVALID',
  kernelNotFound: 'NBSTAGE_KERNEL_NOT_FOUND',
  stageNotFound: 'NBSTAGE_STAGE_NOT_FOUND',
  fileCorrupted: 'NBSTAGE_FILE_CORRUPTED',
  unauthorized: 'NBSTAGE_UNAUTHORIZED',
  forbidden: 'NBSTAGE_FORBIDDEN',
  rateLimited: 'NBSTAGE_RATE_LIMITED',
  notFound: 'NBSTAGE_NOT_FOUND',
  payloadTooLarge: 'NBSTAGE_PAYLOAD_TOO_LARGE',
  storeBusy: 'NBSTAGE_STORE_BUSY',
  unavailable: 'NBSTAGE_UNAVAILABLE',
  cellFailed: 'NBSTAGE_CELL_FAILED',
  cellTimeout: 'NBSTAGE_CELL_TIMEOUT',
  runTimeout: 'NBSTAGE_RUN_TIMEOUT',
  kernelDied: 'NBSTAGE_KERNEL_DIED',
  unreachable: 'NBSTAGE_UNREACHABLE',
  cancelled: 'NBSTAGE_CANCELLED',
  checkFailed: 'NBSTAGE_CHECK_FAILED',
  internal: 'NBSTAGE_INTERNAL',
  jenkinsNotConfigured: 'NBSTAGE_JENKINS_NOT_CONFIGURED',
  jenkinsUnreachable: 'NBSTAGE_JENKINS_UNREACHABLE',
  jenkinsError: 'NBSTAGE_JENKINS_ERROR',
  buildFailed: 'NBSTAGE_BUILD_FAILED',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What one error code means to the outside: the CLI's exit code and the service's HTTP status. */
export interface ErrorCodeEntry {
  /** Exit code of the CLI when an error with this code ends a run. */
  readonly exit: ExitCodeValue;
  /** HTTP status of the service when an error with this code answers a request. */
  readonly status: number;
}

/** The one table: every error code with its exit code and HTTP status. */
export const ERROR_CATALOGUE: Readonly<Record<ErrorCodeValue, ErrorCodeEntry>> = {
  [ErrorCode.usage]: { exit: ExitCode.badInput, status: 400 },
  [ErrorCode.notebookInvalid]: { exit: ExitCode.badInput, status: 400 },
  [ErrorCode.validation]: { exit: ExitCode.badInput, status: 400 },
  [ErrorCode.parameterInvalid]: { exit: ExitCode.badInput, status: 400 },
  [ErrorCode.kernelNotFound]: { exit: ExitCode.badInput, status: 400 },
  [ErrorCode.stageNotFound]: { exit: ExitCode.badInput, status: 400 },
  [ErrorCode.fileCorrupted]: { exit: ExitCode.badInput, status: 500 },
  [ErrorCode.unauthorized]: { exit: ExitCode.badInput, status: 401 },
  [ErrorCode.forbidden]: { exit: ExitCode.badInput, status: 403 },
  [ErrorCode.rateLimited]: { exit: ExitCode.unreachable, status: 429 },
  [ErrorCode.notFound]: { exit: ExitCode.badInput, status: 404 },
  [ErrorCode.payloadTooLarge]: { exit: ExitCode.badInput, status: 413 },
  [ErrorCode.storeBusy]: { exit: ExitCode.unreachable, status: 503 },
  [ErrorCode.unavailable]: { exit: ExitCode.unreachable, status: 503 },
  [ErrorCode.cellFailed]: { exit: ExitCode.cellFailed, status: 422 },
  [ErrorCode.cellTimeout]: { exit: ExitCode.timeout, status: 504 },
  [ErrorCode.runTimeout]: { exit: ExitCode.timeout, status: 504 },
  [ErrorCode.kernelDied]: { exit: ExitCode.kernelDied, status: 500 },
  [ErrorCode.unreachable]: { exit: ExitCode.unreachable, status: 502 },
  [ErrorCode.cancelled]: { exit: ExitCode.cancelled, status: 409 },
  [ErrorCode.checkFailed]: { exit: ExitCode.checkFailed, status: 422 },
  [ErrorCode.internal]: { exit: ExitCode.cellFailed, status: 500 },
  [ErrorCode.jenkinsNotConfigured]: { exit: ExitCode.unreachable, status: 503 },
  [ErrorCode.jenkinsUnreachable]: { exit: ExitCode.unreachable, status: 502 },
  [ErrorCode.jenkinsError]: { exit: ExitCode.unreachable, status: 502 },
  [ErrorCode.buildFailed]: { exit: ExitCode.cellFailed, status: 422 },
};

/** Whether a string is one of the codes of {@link ERROR_CATALOGUE}. */
export function isErrorCode(code: string): code is ErrorCodeValue {
  return Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, code);
}

/**
 * The catalogue's entry for a code; a code the catalogue does not know (one a newer service
 * sent) is bad input (exit 2) answered with HTTP 500.
 */
export function catalogueEntry(code: string): ErrorCodeEntry {
  return isErrorCode(code) ? ERROR_CATALOGUE[code] : { exit: ExitCode.badInput, status: 500 };
}
