import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { Store } from '../../store/store.js';
import { newClusterJoinToken } from '../tls/join-secrets.js';
import { newToken } from './tokens.js';

/** The name of the admin token made on first start (and of its successors, when rotated). */
export const BOOTSTRAP_ADMIN = 'bootstrap-admin';

export interface BootstrapFiles {
  readonly adminTokenFile: string;
  readonly joinTokenFile: string;
  /** True when this start created the tokens. */
  readonly created: boolean;
}

/**
 * On first start, create the admin API token and the join token and write their secrets to
 * files only the owner can read. Later starts keep them: the store holds only their hashes.
 */
export async function bootstrapTokens(store: Store, dataDir: string, clock: Clock, caFingerprint: string): Promise<BootstrapFiles> {
  const adminTokenFile = join(dataDir, 'admin.token');
  const joinTokenFile = join(dataDir, 'join.token');
  const [apiTokens, joins] = await Promise.all([store.listTokens('api'), store.listTokens('join')]);
  const admins = apiTokens.filter((t) => t.name === BOOTSTRAP_ADMIN);
  if (admins.length > 0 && joins.length > 0) {
    if (!existsSync(adminTokenFile) || !existsSync(joinTokenFile)) {
      throw new Error(`tokens exist in the store but ${adminTokenFile} or ${joinTokenFile} is missing; restore the files or start with a new --data-dir`);
    }
    return { adminTokenFile, joinTokenFile, created: false };
  }
  const admin = newToken('api', clock.now(), { role: 'admin', name: BOOTSTRAP_ADMIN });
  // The join token names the cluster CA, so an agent can check the server before sending it.
  const joinToken = newClusterJoinToken(caFingerprint, clock.now());
  await writeFile(adminTokenFile, `${admin.secret}\n`, { mode: 0o600 });
  await writeFile(joinTokenFile, `${joinToken.secret}\n`, { mode: 0o600 });
  await store.write({ tokens: [admin.record, joinToken.record] });
  return { adminTokenFile, joinTokenFile, created: true };
}
