import { AtollError, notFound } from '../../core/errors.js';
import type { Role, TokenRecord } from '../../store/store.js';

// Who may do what. An API token has a role and the namespaces it may act in (null: all of them,
// which also makes it a cluster token). Viewers read; operators also run and cancel work and move
// data; admins also run the cluster. Cluster-wide changes (nodes, policies, prices, tokens) and
// cluster-wide reads that cross namespaces (the audit log, metrics) need a token for every
// namespace. Inside a namespace, an object of another namespace answers 404, as if it did not
// exist: a scoped token must not learn which job ids other teams have.

/** What a route asks of its caller; routes declare it, the server's request hook checks it. */
export type RouteAccess =
  | 'none'
  /** The cluster join token (agents joining). */
  | 'join'
  /** A node's own credential (its agent). */
  | 'node'
  | { readonly role: Role; readonly cluster?: boolean };

const RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(role: Role | null, needed: Role): boolean {
  return role !== null && RANK[role] >= RANK[needed];
}

/** Whether the token is an API token for every namespace. */
export function isClusterToken(token: TokenRecord): boolean {
  return token.kind === 'api' && token.namespaces === null;
}

/** Throws 403 unless the token may use a route that asks for `access`. */
export function checkRouteAccess(token: TokenRecord, access: Exclude<RouteAccess, 'none' | 'join' | 'node'>): void {
  if (!roleAtLeast(token.role, access.role)) {
    throw new AtollError('forbidden', `token ${token.id} has the ${token.role ?? 'no'} role; this needs ${access.role} or above`);
  }
  if (access.cluster === true && !isClusterToken(token)) {
    throw new AtollError('forbidden', `token ${token.id} is scoped to namespaces ${(token.namespaces ?? []).join(', ')}; this needs a token for every namespace`);
  }
}

/** Whether the token may see or act in `namespace`. */
export function mayActIn(token: TokenRecord, namespace: string): boolean {
  return token.namespaces === null || token.namespaces.includes(namespace);
}

/** Throws 403 naming the namespaces the token has, for a namespace the caller named itself. */
export function requireNamespace(token: TokenRecord, namespace: string): void {
  if (!mayActIn(token, namespace)) {
    throw new AtollError('forbidden', `token ${token.id} may act in namespaces ${(token.namespaces ?? []).join(', ')} only, not in "${namespace}"`);
  }
}

/** Throws 404 for an object in a namespace the token may not see: its existence is not the caller's business. */
export function requireVisible(token: TokenRecord, namespace: string, kind: string, id: string): void {
  if (!mayActIn(token, namespace)) throw notFound(kind, id);
}

/** Namespaces a listing is limited to: undefined for a cluster token (no limit). */
export function visibleNamespaces(token: TokenRecord): readonly string[] | undefined {
  return token.namespaces ?? undefined;
}
