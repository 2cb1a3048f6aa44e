import type { FastifyInstance } from 'fastify';
import { AtollError } from '../../../core/errors.js';
import { NAME_PATTERN } from '../../../core/job-spec.js';
import { joinRequestSchema, type JoinResponse } from '../../../protocol/messages.js';
import type { Authenticator } from '../../auth/authenticator.js';
import { newToken } from '../../auth/tokens.js';
import type { ControlPlane } from '../../control-plane.js';
import { parseBody } from '../params.js';

export function registerAgentRoutes(app: FastifyInstance, plane: ControlPlane, auth: Authenticator): void {
  // Exchanges the cluster join token for a credential that speaks for one node only.
  app.post('/v1/agents/join', { config: { access: 'join' } }, async (request, reply) => {
    const { node } = parseBody(joinRequestSchema, request.body);
    if (!NAME_PATTERN.test(node)) {
      throw new AtollError('invalid_request', `node: expected a name of lowercase letters, digits and dashes, got ${JSON.stringify(node)}`);
    }
    if (plane.isConnected(node)) {
      throw new AtollError('conflict', `node ${node} is connected right now; a second agent cannot join under its name`);
    }
    const credential = newToken('node', Date.now(), { node });
    await plane.replaceNodeCredential(node, credential.record);
    auth.invalidate();
    const body: JoinResponse = { node, credential: credential.secret };
    return reply.status(201).send(body);
  });

  // The WebSocket upgrade is handled by the agent gateway before routing; a plain GET lands here.
  app.get('/v1/agents/connect', { config: { access: 'node' } }, async (_request, reply) =>
    reply.status(426).send({ error: { code: 'invalid_request', message: 'this endpoint takes a WebSocket upgrade from `atoll agent`' } }),
  );
}
