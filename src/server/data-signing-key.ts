import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPrivateKey, generateDataSigningKeys, importPrivateKey, type DataSigningKeys } from '../protocol/data-token.js';

/**
 * The control plane's data-token key, made on first start and kept in the data dir (mode 0600),
 * so tokens it signed before a restart stay valid after it and agents keep the same public key.
 */
export async function loadDataSigningKeys(dataDir: string): Promise<DataSigningKeys> {
  const file = join(dataDir, 'data-signing.key');
  if (existsSync(file)) return importPrivateKey(await readFile(file, 'utf8'));
  const keys = generateDataSigningKeys();
  // Written aside and renamed, so a crash mid-write cannot leave a torn key behind.
  await writeFile(`${file}.tmp`, exportPrivateKey(keys), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return keys;
}
