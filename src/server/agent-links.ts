import { groupBy } from '../core/collections.js';
import type { AttemptRecord } from '../core/types.js';
import type { ServerMessage } from '../protocol/messages.js';

/** What the control plane needs from an agent's connection. */
export interface AgentLink {
  send(message: ServerMessage): void;
  /** A binary frame of a relayed transfer (protocol/relay-frame.ts). */
  sendFrame(frame: Buffer): void;
  close(code: number, reason: string): void;
  /** Drop the connection at once, without a closing handshake (the peer may be gone). */
  terminate(): void;
}

/** The live connection of each node's agent, by node name. */
export class AgentLinks extends Map<string, AgentLink> {
  /** Tells each attempt's node to stop it; nodes without a connection learn at their next hello. */
  sendCancels(attempts: readonly AttemptRecord[], reason: string): void {
    for (const [node, list] of groupBy(attempts, (a) => a.node)) {
      this.get(node)?.send({ type: 'attempts.cancel', attempts: list.map((a) => ({ attemptId: a.id, reason })) });
    }
  }
}
