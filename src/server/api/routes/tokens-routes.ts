import { rename, writeFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../../core/clock.js';
import { AtollError, notFound } from '../../../core/errors.js';
import { NAME_PATTERN } from '../../../core/job-spec.js';
import { ROLES } from '../../../core/access.js';
import type { Store, TokenRecord } from '../../../store/store.js';
import { isClusterToken, roleAtLeast } from '../../auth/access.js';
import type { Authenticator } from '../../auth/authenticator.js';
import { BOOTSTRAP_ADMIN } from '../../auth/bootstrap.js';
import type { LiveStreams } from '../../auth/live-streams.js';
import { isExpired, isLive, newToken, tokenView } from '../../auth/tokens.js';
import { parseBody, parseQuery } from '../params.js';

const CLUSTER_ADMIN = { access: { role: 'admin', cluster: true } } as const;
const noQuery = z.strictObject({});
const listQuery = z.strictObject({ revoked: z.enum(['true', 'false']).optional() });
const namespaceName = z.string().regex(NAME_PATTERN, 'expected a namespace name: lowercase letters, digits and dashes, at most 63');
const createBody = z.strictObject({
  name: z.string().regex(NAME_PATTERN, 'expected a token name: lowercase letters, digits and dashes, at most 63'),
  role: z.enum(ROLES),
  /** Left out or null: every namespace (a cluster token). */
  namespaces: z.array(namespaceName).min(1).max(100).nullable().optional(),
});

export interface TokenRouteParts {
  readonly store: Store;
  readonly auth: Authenticator;
  readonly streams: LiveStreams;
  readonly clock: Clock;
  /** Where the bootstrap admin token's secret lives, rewritten when that token is rotated. */
  readonly tokenFiles: { readonly adminTokenFile: string };
}

export function registerTokenRoutes(app: FastifyInstance, parts: TokenRouteParts): void {
  const { store, auth, streams, clock } = parts;
  const liveApiToken = async (id: string): Promise<TokenRecord> => {
    const token = await store.getToken(id);
    if (token === undefined || token.kind !== 'api') throw notFound('token', id);
    if (token.revokedAt !== null) throw new AtollError('conflict', `token ${id} was revoked already`);
    if (isExpired(token, clock.now())) throw new AtollError('conflict', `token ${id} expired at ${new Date(token.expiresAt!).toISOString()}`);
    return token;
  };
  const revoke = async (token: TokenRecord, replacement?: TokenRecord): Promise<void> => {
    await store.write({ ...(replacement ? { tokens: [replacement] } : {}), revokeTokens: [{ id: token.id, at: clock.now() }] });
    auth.invalidate();
    streams.endFor(token.id);
    // The dashboard sessions it signed in stop working with it (the authenticator checks the
    // parent); their open streams end now too.
    for (const session of (await store.listTokens('api')).filter((t) => t.parentId === token.id)) streams.endFor(session.id);
  };

  app.post('/v1/tokens', { config: CLUSTER_ADMIN }, async (request, reply) => {
    parseQuery(noQuery, request.query);
    const body = parseBody(createBody, request.body);
    const created = newToken('api', clock.now(), { role: body.role, namespaces: body.namespaces ?? null, name: body.name });
    await store.write({ tokens: [created.record] });
    auth.invalidate();
    request.auditNote = { target: created.record.id };
    // The only time the secret is shown: the store keeps its hash.
    return reply.status(201).send({ token: tokenView(created.record), secret: created.secret });
  });

  app.get('/v1/tokens', { config: CLUSTER_ADMIN }, async (request) => {
    const { revoked } = parseQuery(listQuery, request.query);
    const now = clock.now();
    // Revoked and expired tokens (ended sign-in sessions) only when asked for.
    const items = (await store.listTokens('api')).filter((t) => revoked === 'true' || isLive(t, now)).map(tokenView);
    return { items, total: items.length };
  });

  app.post<{ Params: { id: string } }>('/v1/tokens/:id/revoke', { config: CLUSTER_ADMIN }, async (request) => {
    parseQuery(noQuery, request.query);
    const token = await liveApiToken(request.params.id);
    // Revoking the last token that can run the cluster would lock everyone out for good.
    if (isClusterAdmin(token)) {
      // Sign-in sessions do not count: they expire, and they end with the token that made them.
      const others = (await store.listTokens('api')).filter((t) => t.id !== token.id && t.revokedAt === null && t.expiresAt === null && isClusterAdmin(t));
      if (others.length === 0) throw new AtollError('conflict', `token ${token.id} is the last admin token for every namespace; create another first, or rotate this one (atoll token rotate ${token.id})`);
    }
    await revoke(token);
    return tokenView({ ...token, revokedAt: clock.now() });
  });

  // A new secret for the same token scope; the old secret stops working at once.
  app.post<{ Params: { id: string } }>('/v1/tokens/:id/rotate', { config: CLUSTER_ADMIN }, async (request) => {
    parseQuery(noQuery, request.query);
    const token = await liveApiToken(request.params.id);
    const next = newToken('api', clock.now(), {
      role: token.role!, namespaces: token.namespaces, name: token.name ?? undefined,
      ...(token.expiresAt === null ? {} : { expiresAt: token.expiresAt }), ...(token.parentId === null ? {} : { parentId: token.parentId }),
    });
    if (token.name === BOOTSTRAP_ADMIN) await replaceSecretFile(parts.tokenFiles.adminTokenFile, next.secret);
    await revoke(token, next.record);
    request.auditNote = { target: `${token.id} -> ${next.record.id}` };
    return { token: tokenView(next.record), secret: next.secret, replaced: token.id };
  });
}

function isClusterAdmin(token: TokenRecord): boolean {
  return isClusterToken(token) && roleAtLeast(token.role, 'admin');
}

/** Writes the secret beside the file and renames it over, so a crash leaves the old or the new one whole. */
async function replaceSecretFile(file: string, secret: string): Promise<void> {
  await writeFile(`${file}.new`, `${secret}\n`, { mode: 0o600 });
  await rename(`${file}.new`, file);
}
