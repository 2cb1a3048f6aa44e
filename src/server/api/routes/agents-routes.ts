import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { joinRequestSchema, renewRequestSchema } from '../../../protocol/messages.js';
import type { Authenticator } from '../../auth/authenticator.js';
import type { ControlPlane } from '../../control-plane.js';
import type { NodeIdentity } from '../../tls/node-identity.js';
import { parseBody } from '../params.js';

export function registerAgentRoutes(app: FastifyInstance, _plane: ControlPlane, auth: Authenticator, identity: NodeIdentity): void {
  // Public on purpose: an agent fetches it before trusting the server and checks its sha256
  // against the fingerprint in its join token; a forged CA fails that check.
  app.get('/v1/agents/ca', { config: { access: 'none' } }, async (_request, reply) =>
    reply.type('application/x-pem-file').send(identity.ca.certPem),
  );

  // Exchanges a join token (and a CSR) for a certificate that speaks for one node only. The
  // token is checked here rather than in the auth hook: scoped tokens live in their own table.
  app.post('/v1/agents/join', { config: { access: 'none' } }, async (request, reply) => {
    const body = await identity.join(request.headers.authorization, () => parseBody(joinRequestSchema, request.body));
    auth.invalidate();
    return reply.status(201).send(body);
  });

  // Authenticated by the node's current client certificate, not by a token.
  app.post('/v1/agents/renew', { config: { access: 'none' } }, async (request, reply) => {
    const socket = request.raw.socket as TLSSocket;
    // The certificate is checked before the body is read: an unauthenticated caller learns nothing.
    return reply.status(201).send(await identity.renew(socket.encrypted ? socket : undefined, () => parseBody(renewRequestSchema, request.body)));
  });

  // The WebSocket upgrade is handled by the agent gateway before routing; a plain GET lands here.
  app.get('/v1/agents/connect', { config: { access: 'node' } }, async (_request, reply) =>
    reply.status(426).send({ error: { code: 'invalid_request', message: 'this endpoint takes a WebSocket upgrade from `atoll agent`' } }),
  );
}
