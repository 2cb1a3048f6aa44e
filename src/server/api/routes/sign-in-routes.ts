import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../../core/clock.js';
import { AtollError } from '../../../core/errors.js';
import type { Store } from '../../../store/store.js';
import type { Authenticator } from '../../auth/authenticator.js';
import { SignInLinks } from '../../auth/sign-in-links.js';
import { isLive, newToken, tokenView } from '../../auth/tokens.js';
import { parseBody, parseQuery } from '../params.js';
import { principalOf } from '../principal.js';

// Who the caller is, and the dashboard's one-time sign-in links (see auth/sign-in-links.ts).

/** How long a dashboard session lasts (never beyond the token that made its link). */
export const SESSION_MS = 12 * 3_600_000;
const noQuery = z.strictObject({});
const noBody = z.strictObject({}).optional();
const signInBody = z.strictObject({ code: z.string().min(16).max(64).regex(/^[A-Za-z0-9_-]+$/, 'expected the code from a sign-in link') });
const VIEWER = { access: { role: 'viewer' } } as const;

export interface SignInRouteParts {
  readonly store: Store;
  readonly auth: Authenticator;
  readonly clock: Clock;
}

export function registerSignInRoutes(app: FastifyInstance, { store, auth, clock }: SignInRouteParts): void {
  const links = new SignInLinks();

  app.get('/v1/whoami', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return tokenView(principalOf(request));
  });

  // A link that signs a browser in as the caller (same role and namespaces), for minutes, once.
  app.post('/v1/sign-in-links', { config: VIEWER }, async (request, reply) => {
    parseQuery(noQuery, request.query);
    parseBody(noBody, request.body);
    const { code, expiresAt } = links.create(principalOf(request).id, clock.now());
    return reply.status(201).send({ path: `/#sign-in=${code}`, code, expiresAt });
  });

  // Trades a link's code for a session token. Open to anyone (the code is the credential); audited.
  app.post('/v1/sign-in', { config: { access: 'none' } }, async (request, reply) => {
    parseQuery(noQuery, request.query);
    const { code } = parseBody(signInBody, request.body);
    const now = clock.now();
    const tokenId = links.redeem(code, now);
    const owner = tokenId === undefined ? undefined : await store.getToken(tokenId);
    const root = owner?.parentId == null ? owner : await store.getToken(owner.parentId);
    const live = (t: typeof owner) => t !== undefined && isLive(t, now);
    if (owner === undefined || !live(owner) || !live(root)) {
      throw new AtollError('unauthorized', 'this sign-in link is unknown, used or expired: ask for a new one (`atoll dashboard`)');
    }
    const expiresAt = Math.min(now + SESSION_MS, owner.expiresAt ?? Number.POSITIVE_INFINITY);
    // A session made from a session hangs from the same root token, so revoking that one ends both.
    const session = newToken('api', now, { role: owner.role!, namespaces: owner.namespaces, name: 'dashboard-session', expiresAt, parentId: owner.parentId ?? owner.id });
    await store.write({ tokens: [session.record] });
    auth.invalidate();
    request.auditNote = { target: `${session.record.id} (for ${owner.id})` };
    return reply.status(201).send({ token: tokenView(session.record), secret: session.secret });
  });
}
