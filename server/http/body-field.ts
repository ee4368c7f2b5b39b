/**
 * Names the request body field an ajv error is about (`body.parameters.lr`), for the 400 answers
 * of every validated body.
 */
import type { ErrorObject } from 'ajv';

/** `body.a.b` of an ajv error: its path, plus the missing, extra or badly named property. */
export function bodyField(err: ErrorObject | undefined): string {
  if (err === undefined) {
    return 'body';
  }
  const params = err.params as { missingProperty?: string; additionalProperty?: string };
  const property =
    err.keyword === 'required'
      ? `.${params.missingProperty ?? ''}`
      : err.keyword === 'additionalProperties'
        ? `.${params.additionalProperty ?? ''}`
        : '';
  return `body${err.instancePath.replace(/\//g, '.')}${property}${
    err.propertyName === undefined ? '' : `.${err.propertyName}`
  }`;
}
