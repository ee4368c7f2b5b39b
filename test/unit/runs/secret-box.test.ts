import { openSecrets, sealSecrets, secretKey } from '../../../server/runs/secret-box';

describe('secret box', () => {
  it('seals secrets so the sealed form does not contain them, and opens them with the key', () => {
    const key = secretKey('a shared passphrase');
    const secrets = { API_TOKEN: 'hunter2-s3cret', DB: 'p@ss "quoted"' };
    const sealed = sealSecrets(secrets, key);
    const text = JSON.stringify(sealed);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(Buffer.from('hunter2-s3cret').toString('base64').slice(0, 12));
    expect(openSecrets(sealed, secretKey('a shared passphrase'))).toEqual(secrets);
  });

  it('refuses a different key or tampered data, saying why', () => {
    const sealed = sealSecrets({ A: 'x' }, secretKey('one'));
    expect(() => openSecrets(sealed, secretKey('two'))).toThrow(/NBSTAGE_SECRET_KEY differs/);
    const tampered = { ...sealed, data: Buffer.from('garbage').toString('base64') };
    expect(() => openSecrets(tampered, secretKey('one'))).toThrow(/cannot open/);
  });

  it('makes a random key without a passphrase', () => {
    expect(secretKey().equals(secretKey())).toBe(false);
    expect(secretKey('p').equals(secretKey('p'))).toBe(true);
  });
});
