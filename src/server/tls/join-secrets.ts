import { randomBytes } from 'node:crypto';
import { randomSuffix } from '../../core/ids.js';
import { formatJoinToken } from '../../protocol/join-token.js';
import type { TokenRecord } from '../../store/store.js';
import { hashSecret } from '../auth/tokens.js';

/** A fresh join token naming the cluster CA; only its sha256 is kept by the server. */
export function newJoinSecret(caFingerprint: string): { secret: string; hash: string } {
  const secret = formatJoinToken(caFingerprint, randomBytes(32).toString('base64url'));
  return { secret, hash: hashSecret(secret) };
}

/** The unscoped cluster join token made on first start (<data-dir>/join.token). */
export function newClusterJoinToken(caFingerprint: string, now: number): { secret: string; record: TokenRecord } {
  const { secret, hash } = newJoinSecret(caFingerprint);
  return { secret, record: { id: `join-${randomSuffix(8)}`, kind: 'join', hash, node: null, createdAt: now, revokedAt: null, role: null, namespaces: null, name: null, expiresAt: null, parentId: null } };
}
