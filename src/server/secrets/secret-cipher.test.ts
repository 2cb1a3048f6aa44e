import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SecretCipher } from './secret-cipher.js';
import { loadSecretCipher, SECRET_KEY_FILE } from './secret-key-file.js';

const CONTEXT = 'job demo-abc123 stage 0 secret db-password';

describe('SecretCipher', () => {
  const cipher = new SecretCipher(randomBytes(32));

  it('opens what it sealed, for any text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
      expect(cipher.open(cipher.seal(text, CONTEXT), CONTEXT)).toBe(text);
    }));
  });

  it('uses a fresh nonce per value: the same text seals differently each time, and never shows in the result', () => {
    const text = 'the same secret';
    const sealed = new Set(Array.from({ length: 50 }, () => cipher.seal(text, CONTEXT)));
    expect(sealed.size).toBe(50);
    for (const value of sealed) {
      expect(value).toMatch(new RegExp(`^v1:${cipher.keyId}:[A-Za-z0-9_-]+$`));
      expect(value).not.toContain(text);
      expect(Buffer.from(value.split(':')[2]!, 'base64url').toString('latin1')).not.toContain(text);
    }
  });

  it('refuses a value moved to another job, stage or secret', () => {
    const sealed = cipher.seal('for demo only', CONTEXT);
    expect(() => cipher.open(sealed, 'job other-xyz stage 0 secret db-password')).toThrow(/failed its integrity check/);
  });

  it('refuses a value with any byte changed', () => {
    const sealed = cipher.seal('tamper with me', CONTEXT);
    const [version, keyId, body] = sealed.split(':') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    for (let i = 0; i < bytes.length; i += 1) {
      const changed = Buffer.from(bytes);
      changed[i] = changed[i]! ^ 0x01;
      expect(() => cipher.open(`${version}:${keyId}:${changed.toString('base64url')}`, CONTEXT), `byte ${i}`).toThrow(/integrity check/);
    }
  });

  it('says which key sealed a value another key cannot open', () => {
    const other = new SecretCipher(randomBytes(32));
    const sealed = other.seal('x', CONTEXT);
    expect(() => cipher.open(sealed, CONTEXT)).toThrow(`was sealed with key ${other.keyId}, but secrets.key is ${cipher.keyId}`);
  });

  it('refuses malformed and truncated values', () => {
    expect(() => cipher.open('plain text', CONTEXT)).toThrow(/not in the v1 format/);
    expect(() => cipher.open(`v1:${cipher.keyId}:a:b`, CONTEXT)).toThrow(/not in the v1 format/);
    expect(() => cipher.open(`v1:${cipher.keyId}:AAAA`, CONTEXT)).toThrow(/truncated/);
  });

  it('takes 32-byte keys only', () => {
    expect(() => new SecretCipher(randomBytes(16))).toThrow('a secret key has 32 bytes, got 16');
  });
});

describe('loadSecretCipher', () => {
  it('creates the key on first start (mode 0600) and reads the same key after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atoll-secret-key-'));
    const first = await loadSecretCipher(dir);
    const file = join(dir, SECRET_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toHaveLength(32);
    const again = await loadSecretCipher(dir);
    expect(again.keyId).toBe(first.keyId);
    expect(again.open(first.seal('kept across restarts', CONTEXT), CONTEXT)).toBe('kept across restarts');
  });

  it('refuses a key file others can read, saying how to fix it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atoll-secret-key-'));
    await loadSecretCipher(dir);
    const file = join(dir, SECRET_KEY_FILE);
    await chmod(file, 0o644);
    await expect(loadSecretCipher(dir)).rejects.toThrow(`${file} can be read by other users (mode 644); run \`chmod 600 ${file}\``);
  });

  it('refuses a key file that does not hold a 32-byte key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'atoll-secret-key-'));
    await writeFile(join(dir, SECRET_KEY_FILE), `${randomBytes(8).toString('base64')}\n`, { mode: 0o600 });
    await expect(loadSecretCipher(dir)).rejects.toThrow(/does not hold a 32-byte key in base64 \(it decodes to 8 bytes\)/);
  });
});
