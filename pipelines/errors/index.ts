/** nbstage's errors: the catalogue of codes (exit code, HTTP status) and the error classes. */
export * from './catalogue';
export * from './classes';
