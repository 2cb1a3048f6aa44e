import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AtollError } from '../../core/errors.js';

// AES-256-GCM for job secrets at rest. Each value gets its own random 96-bit nonce, so one key
// can seal any number of values (far below GCM's 2^32 random-nonce limit in any real cluster).
// The additional data names where the value belongs (job, stage, secret): a sealed value copied
// onto another job's row in the store fails to open there instead of reaching that job's tasks.

export const SECRET_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/** Seals and opens secret values with the control plane's key (server/secrets/secret-key-file.ts). */
export class SecretCipher {
  /** A short fingerprint of the key, stored with each value so a replaced key file is recognised. */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== SECRET_KEY_BYTES) throw new RangeError(`a secret key has ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** `v1:<key id>:<base64url of nonce, ciphertext and tag>`, bound to `context`. */
  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([nonce, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}:${this.keyId}:${body.toString('base64url')}`;
  }

  /** The plaintext; throws when the value is malformed, sealed with another key, altered or moved. */
  open(sealed: string, context: string): string {
    const [version, keyId, encoded, ...extra] = sealed.split(':');
    if (version !== VERSION || keyId === undefined || encoded === undefined || extra.length > 0) {
      throw new AtollError('internal', `a stored secret (${context}) is not in the ${VERSION} format; the store was altered`);
    }
    if (keyId !== this.keyId) {
      throw new AtollError('internal', `a stored secret (${context}) was sealed with key ${keyId}, but secrets.key is ${this.keyId}: restore the secrets.key backed up with this store`);
    }
    const body = Buffer.from(encoded, 'base64url');
    if (body.length < NONCE_BYTES + TAG_BYTES) throw new AtollError('internal', `a stored secret (${context}) is truncated; the store was altered`);
    const decipher = createDecipheriv('aes-256-gcm', this.key, body.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (error) {
      // GCM's tag check failed: the bytes were changed, or they belong to another job or secret.
      throw new AtollError('internal', `a stored secret (${context}) failed its integrity check; the store was altered`, { cause: error });
    }
  }
}
