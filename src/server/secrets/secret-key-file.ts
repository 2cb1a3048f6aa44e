import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtollError } from '../../core/errors.js';
import { SECRET_KEY_BYTES, SecretCipher } from './secret-cipher.js';

// The key that seals job secrets lives in the data dir, never in the store: a copy of atoll.db
// alone (a backup, a replica, a support bundle) then gives no secret away.

export const SECRET_KEY_FILE = 'secrets.key';

/** The cipher over `<dataDir>/secrets.key`, creating the key (mode 0600) on first start. */
export async function loadSecretCipher(dataDir: string): Promise<SecretCipher> {
  const file = join(dataDir, SECRET_KEY_FILE);
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return new SecretCipher(await createKey(file));
  }
  // As ssh does with private keys: a key others can read is not a secret any more.
  if ((mode & 0o077) !== 0) {
    throw new AtollError('invalid_request', `${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${file}\` and start again`);
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length !== SECRET_KEY_BYTES) {
    throw new AtollError('invalid_request', `${file} does not hold a ${SECRET_KEY_BYTES}-byte key in base64 (it decodes to ${key.length} bytes); restore it from the backup taken with atoll.db`);
  }
  return new SecretCipher(key);
}

async function createKey(file: string): Promise<Buffer> {
  const key = randomBytes(SECRET_KEY_BYTES);
  // Written aside and renamed, so a crash mid-write cannot leave a torn key behind.
  await writeFile(`${file}.tmp`, `${key.toString('base64')}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return key;
}
