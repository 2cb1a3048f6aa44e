import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomSuffix } from '../../core/ids.js';
import type { TokenView } from '../../core/access.js';
import type { Role, TokenKind, TokenRecord } from '../../store/store.js';

// Secrets are random 32-byte strings with a readable prefix (so a leaked one is recognisable in
// a scan). Only their sha256 is stored; the secret itself exists only in the holder's file.

const PREFIX: Readonly<Record<TokenKind, string>> = { api: 'atoll_api_', join: 'atoll_join_', node: 'atoll_node_' };

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface TokenScope {
  readonly node?: string;
  readonly role?: Role;
  readonly namespaces?: readonly string[] | null;
  readonly name?: string;
  readonly expiresAt?: number;
  readonly parentId?: string;
}

export function newToken(kind: TokenKind, now: number, scope: TokenScope = {}): { secret: string; record: TokenRecord } {
  // An admin token says so in its prefix, as the bootstrap one always has: a leak scan ranks it first.
  const prefix = kind === 'api' && scope.role === 'admin' ? 'atoll_admin_' : PREFIX[kind];
  const secret = prefix + randomBytes(32).toString('base64url');
  return {
    secret,
    record: {
      id: `${kind === 'api' ? 'tok' : kind}-${randomSuffix(8)}`, kind, hash: hashSecret(secret), node: scope.node ?? null, createdAt: now, revokedAt: null,
      role: scope.role ?? null, namespaces: scope.namespaces ?? null, name: scope.name ?? null, expiresAt: scope.expiresAt ?? null, parentId: scope.parentId ?? null,
    },
  };
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

/** A token as the API shows it: never its hash. */
export function tokenView(token: TokenRecord): TokenView {
  return { id: token.id, name: token.name, role: token.role, namespaces: token.namespaces, createdAt: token.createdAt, revokedAt: token.revokedAt, expiresAt: token.expiresAt };
}

/** Past its expiry (a sign-in session); tokens without one never expire. */
export function isExpired(token: Pick<TokenRecord, 'expiresAt'>, now: number): boolean {
  return token.expiresAt !== null && now >= token.expiresAt;
}

/** Neither revoked nor expired. */
export function isLive(token: Pick<TokenRecord, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return token.revokedAt === null && !isExpired(token, now);
}
