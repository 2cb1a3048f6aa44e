import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomSuffix } from '../../core/ids.js';
import type { TokenKind, TokenRecord } from '../../store/store.js';

// Secrets are random 32-byte strings with a readable prefix (so a leaked one is recognisable in
// a scan). Only their sha256 is stored; the secret itself exists only in the holder's file.

const PREFIX: Readonly<Record<TokenKind, string>> = { admin: 'atoll_admin_', join: 'atoll_join_', node: 'atoll_node_' };

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newToken(kind: TokenKind, now: number, node: string | null = null): { secret: string; record: TokenRecord } {
  const secret = PREFIX[kind] + randomBytes(32).toString('base64url');
  return { secret, record: { id: `${kind}-${randomSuffix(8)}`, kind, hash: hashSecret(secret), node, createdAt: now, revokedAt: null } };
}

/** The bearer secret from an Authorization header, or undefined. */
export function bearerSecret(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
