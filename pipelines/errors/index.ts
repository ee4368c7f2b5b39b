/** nbstage's errors: the catalogue of codes (exit code, HTTP status), the error classes, reasons. */
export * from './catalogue';
export * from './classes';
export * from './reasons';
