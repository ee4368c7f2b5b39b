/**
 * Secrets on their way from the service to a worker: sealed with AES-256-GCM before they enter
 * the queue (Redis keeps job payloads on disk), opened by the worker that runs the job. So are a
 * run's parameters when one of their values holds a secret. The key
 * is NBSTAGE_SECRET_KEY, shared by `nbstage serve` and `nbstage worker`; an in-process service
 * uses a key of its own that never leaves the process.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ValidationError } from '../../pipelines/errors';
import type { JSONObject, JSONValue } from '../../pipelines/notebook/model';

/** A key for sealing secrets. */
export type SecretKey = Buffer;

/** The key from a passphrase (NBSTAGE_SECRET_KEY), or a fresh random one. */
export function secretKey(passphrase?: string): SecretKey {
  return passphrase === undefined || passphrase === ''
    ? randomBytes(32)
    : createHash('sha256').update(passphrase).digest();
}

/** Seals `secrets` for the queue. */
export function sealSecrets(secrets: Record<string, string>, key: SecretKey): JSONObject {
  return sealValue(secrets, key);
}

/** Opens sealed secrets; a wrong key or tampered data is a ValidationError that says so. */
export function openSecrets(sealed: JSONObject, key: SecretKey): Record<string, string> {
  return openValue(sealed, key) as Record<string, string>;
}

/** Seals any JSON value for the queue (parameters that hold a secret). */
export function sealValue(value: JSONValue, key: SecretKey): JSONObject {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return {
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

/** Opens a sealed value; a wrong key or tampered data is a ValidationError that says so. */
export function openValue(sealed: JSONObject, key: SecretKey): JSONValue {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(String(sealed.iv), 'base64'));
    decipher.setAuthTag(Buffer.from(String(sealed.tag), 'base64'));
    const plain = Buffer.concat([
      decipher.update(Buffer.from(String(sealed.data), 'base64')),
      decipher.final(),
    ]);
    return JSON.parse(plain.toString('utf8')) as JSONValue;
  } catch {
    throw new ValidationError(
      'secrets',
      "cannot open the run's secrets: the worker's NBSTAGE_SECRET_KEY differs from the service's",
    );
  }
}
