import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/*
 * Secrets at rest (Slack tokens, SMTP passwords, Stripe keys, webhook
 * secrets): AES-256-GCM under a 32-byte key from LEDGERFLOW_SECRET_KEY.
 * A stored value is `v1:<iv>:<tag>:<ciphertext>` (base64url), the version
 * naming the key so a later key can be added beside it. Each value is
 * bound to where it is stored (the additional authenticated data, e.g.
 * `organizations.slack_bot_token_enc:<orgId>`): copied into another row or
 * column, it no longer opens.
 */

export const SECRET_KEY_VARIABLE = 'LEDGERFLOW_SECRET_KEY';
const VERSION = 'v1';

export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

export class SecretOpenError extends Error {
  override name = 'SecretOpenError';
}

/** The key from the environment, as 64 hex characters or 32 bytes of base64 / base64url. */
export function secretKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer {
  // Spelled out, so test/docker-compose.test.ts finds the read and checks every service that reaches it sets it.
  const raw = env.LEDGERFLOW_SECRET_KEY?.trim();
  if (!raw) throw new SecretKeyError(`${SECRET_KEY_VARIABLE} is not set: secrets are encrypted at rest with it (32 random bytes as hex or base64, e.g. \`openssl rand -base64 32\`)`);
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(raw) ? Buffer.from(raw, 'base64') : null;
  if (!key || key.length !== 32) throw new SecretKeyError(`${SECRET_KEY_VARIABLE} must be 32 bytes as 64 hex characters or 44 base64 characters (e.g. \`openssl rand -base64 32\`)`);
  return key;
}

export interface SecretBox {
  seal(plaintext: string, place: string): string;
  open(stored: string, place: string): string;
}

/** A box over one key; `key` defaults to LEDGERFLOW_SECRET_KEY, read when a secret is first sealed or opened. */
export function createSecretBox(key?: Buffer | (() => Buffer)): SecretBox {
  let cached: Buffer | undefined = Buffer.isBuffer(key) ? key : undefined;
  const currentKey = (): Buffer => (cached ??= typeof key === 'function' ? key() : secretKeyFromEnv());
  return {
    seal(plaintext, place) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey(), iv);
      cipher.setAAD(Buffer.from(place, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
    },
    open(stored, place) {
      const [version, iv, tag, ciphertext, ...rest] = stored.split(':');
      if (version !== VERSION || !iv || !tag || ciphertext === undefined || rest.length > 0) throw new SecretOpenError(`not a sealed secret (${place}): expected ${VERSION}:<iv>:<tag>:<ciphertext>`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', currentKey(), Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(place, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      } catch (err) {
        if (err instanceof SecretKeyError) throw err;
        throw new SecretOpenError(`the secret stored for ${place} does not open with ${SECRET_KEY_VARIABLE}: the key changed, or the value was altered or copied from elsewhere`);
      }
    },
  };
}

/** The process-wide box over LEDGERFLOW_SECRET_KEY. */
export const secretBox: SecretBox = createSecretBox();
