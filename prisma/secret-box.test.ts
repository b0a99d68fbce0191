import { randomBytes } from 'node:crypto';
import { createSecretBox, secretKeyFromEnv, SecretKeyError, SecretOpenError } from './secret-box';

const key = randomBytes(32);
const box = createSecretBox(key);
const place = 'organizations.slack_bot_token_enc:org-1';

describe('secret box', () => {
  it('seals to a versioned value without the plaintext, and opens it again', () => {
    const sealed = box.seal('xoxb-very-secret', place);
    expect(sealed).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(sealed).not.toContain('very-secret');
    expect(box.open(sealed, place)).toBe('xoxb-very-secret');
  });

  it('uses a fresh IV each time: the same secret seals differently', () => {
    expect(box.seal('same', place)).not.toBe(box.seal('same', place));
  });

  it('refuses a value moved to another row or column', () => {
    const sealed = box.seal('xoxb-very-secret', place);
    expect(() => box.open(sealed, 'organizations.slack_bot_token_enc:org-2')).toThrow(SecretOpenError);
    expect(() => box.open(sealed, 'organizations.smtp_password_enc:org-1')).toThrow(/does not open/);
  });

  it('refuses an altered value and a different key', () => {
    const [v, iv, tag, ct] = box.seal('xoxb-very-secret', place).split(':') as [string, string, string, string];
    const flipped = Buffer.from(ct, 'base64url');
    flipped[0]! ^= 1;
    expect(() => box.open([v, iv, tag, flipped.toString('base64url')].join(':'), place)).toThrow(SecretOpenError);
    expect(() => createSecretBox(randomBytes(32)).open(box.seal('x', place), place)).toThrow(SecretOpenError);
    expect(() => box.open('plain-text-token', place)).toThrow(/not a sealed secret/);
  });

  it('reads the key as hex or base64 and names the variable when it is missing or malformed', () => {
    expect(secretKeyFromEnv({ LEDGERFLOW_SECRET_KEY: key.toString('hex') })).toEqual(key);
    expect(secretKeyFromEnv({ LEDGERFLOW_SECRET_KEY: key.toString('base64') })).toEqual(key);
    expect(secretKeyFromEnv({ LEDGERFLOW_SECRET_KEY: key.toString('base64url') })).toEqual(key);
    expect(() => secretKeyFromEnv({})).toThrow(SecretKeyError);
    expect(() => secretKeyFromEnv({})).toThrow(/LEDGERFLOW_SECRET_KEY is not set/);
    expect(() => secretKeyFromEnv({ LEDGERFLOW_SECRET_KEY: 'short' })).toThrow(/LEDGERFLOW_SECRET_KEY must be 32 bytes/);
  });

  it('reads the key only when a secret is first used', () => {
    let reads = 0;
    const lazy = createSecretBox(() => (reads++, key));
    expect(reads).toBe(0);
    lazy.open(lazy.seal('x', place), place);
    expect(reads).toBe(1);
  });
});
