import type { AttemptAssignment, ServerMessage } from '../../protocol/messages.js';
import type { AgentLink } from '../agent-links.js';

/** An agent connection for in-process control-plane tests: keeps what the control plane sends. */
export class RecordingLink implements AgentLink {
  readonly sent: ServerMessage[] = [];

  send(message: ServerMessage): void {
    this.sent.push(message);
  }

  sendFrame(): void {}
  close(): void {}
  terminate(): void {}

  /** Every attempt the control plane told this agent to run, in order. */
  assignments(): AttemptAssignment[] {
    return this.sent.flatMap((m) => (m.type === 'attempts.run' ? m.attempts : []));
  }
}
