import type { IncomingMessage, Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { isAtollError } from '../../core/errors.js';
import { parseOrThrow } from '../../core/validation.js';
import { agentMessage, helloMessage, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, type ServerMessage } from '../../protocol/messages.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { AgentLink, ControlPlane } from '../control-plane.js';
import type { NodeIdentity } from '../tls/node-identity.js';

export const AGENT_CONNECT_PATH = '/v1/agents/connect';
/** An agent that connects but says nothing is dropped after this long. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Accepts the agents' outbound WebSockets. The node's identity is checked at upgrade time (its
 * verified client certificate over TLS; its bearer credential with --insecure), so an
 * unauthenticated peer never gets a socket; the first message must be a hello for that node.
 */
export class AgentGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  constructor(
    private readonly plane: ControlPlane,
    private readonly auth: Authenticator,
    private readonly log: Logger,
    private readonly audit: AuditLog,
    private readonly identity: NodeIdentity,
  ) {}

  /** Closes the node's live connection (revoked); the agent learns why from the close reason. */
  disconnect(node: string, reason: string): void {
    this.plane.disconnectNode(node, reason);
  }

  attach(server: Server): void {
    server.on('upgrade', (request, socket, head) => void this.upgrade(request, socket, head));
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // Node detaches the HTTP server's error handler before 'upgrade': without ours, a peer that
    // resets the connection while we answer would crash the process.
    socket.on('error', (error) => {
      this.log.debug({ err: error }, 'upgrade socket error');
      socket.destroy();
    });
    const path = (request.url ?? '').split('?')[0];
    if (path !== AGENT_CONNECT_PATH) return refuse(socket, 404, 'Not Found');
    let node: string;
    try {
      if (this.identity.tls) {
        node = await this.identity.nodeFromCertificate(socket as TLSSocket);
      } else {
        const token = await this.auth.authenticate(request.headers.authorization, ['node']);
        node = token.node as string;
        this.identity.checkNotRevoked(node);
      }
    } catch (error) {
      if (isAtollError(error) && (error.code === 'unauthorized' || error.code === 'forbidden')) {
        // 403: a known node that was revoked; 401: anyone without a valid node certificate or credential.
        const status = error.code === 'forbidden' ? 403 : 401;
        this.audit.record({
          actor: 'anonymous', actorKind: 'anonymous', role: null, action: 'agent.connect', target: null, namespace: null,
          outcome: 'denied', status, reason: error.message, remote: request.socket.remoteAddress ?? null,
        });
        return status === 403 ? refuse(socket, 403, 'Forbidden') : refuse(socket, 401, 'Unauthorized');
      }
      this.log.error({ err: error }, 'agent authentication failed');
      return refuse(socket, 500, 'Internal Server Error');
    }
    const remote = request.socket.remoteAddress ?? null;
    this.wss.handleUpgrade(request, socket, head, (ws) => this.serve(ws, node, remote));
  }

  /** Refuses a hello: audited, recorded as an identity event, an error frame, close 4403. */
  private refuseHello(ws: WebSocket, link: AgentLink, node: string, target: string, reason: string, remote: string | null): void {
    this.audit.record({ actor: node, actorKind: 'node', role: null, action: 'agent.hello', target, namespace: null, outcome: 'denied', status: 403, reason, remote });
    void this.identity.noteRefusal(node, reason).catch((error: unknown) => this.log.error({ err: error }, 'could not record a refusal'));
    link.send({ type: 'error', code: 'forbidden', message: reason });
    ws.close(4403, 'forbidden');
  }

  private serve(ws: WebSocket, node: string, remote: string | null): void {
    const link: AgentLink = {
      send: (message: ServerMessage) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      },
      sendFrame: (frame: Buffer) => {
        if (ws.readyState === ws.OPEN) ws.send(frame);
      },
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
    };
    let greeted = false;
    const helloTimer = setTimeout(() => ws.close(4408, 'no hello received'), HELLO_TIMEOUT_MS);
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) {
          if (!greeted) throw new Error('the first message must be a hello');
          this.plane.agentFrame(node, link, data as Buffer);
          return;
        }
        // parseOrThrow checks the shape (depth, prototype keys, overflowing numbers) before the schema.
        const json: unknown = JSON.parse(data.toString());
        if (!greeted) {
          const hello = parseOrThrow(helloMessage, json, 'hello message');
          if (hello.node.name !== node) {
            // Node identity: a credential speaks for its own node only (403, audited, connection closed).
            return this.refuseHello(ws, link, node, hello.node.name, `this credential speaks for node ${node}, not ${hello.node.name}`, remote);
          }
          // A node that joined with a scoped token may claim only the pool and labels it allows.
          const claim = this.identity.claimProblem(node, hello.node.labels);
          if (claim !== undefined) return this.refuseHello(ws, link, node, node, claim, remote);
          if (hello.protocol !== PROTOCOL_VERSION) throw new Error(`protocol ${hello.protocol} is not supported; this server speaks ${PROTOCOL_VERSION}`);
          greeted = true;
          clearTimeout(helloTimer);
          this.plane.agentConnected(node, link, hello);
          return;
        }
        this.plane.agentMessage(node, link, parseOrThrow(agentMessage, json, 'agent message'));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.log.warn({ node, err: error }, 'closing agent connection after a bad message');
        link.send({ type: 'error', code: 'protocol_error', message });
        ws.close(1008, 'protocol error');
      }
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (greeted) this.plane.agentDisconnected(node, link);
    });
    ws.on('error', (error) => this.log.warn({ node, err: error }, 'agent connection error'));
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
