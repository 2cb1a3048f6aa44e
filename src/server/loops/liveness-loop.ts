import type { Clock } from '../../core/clock.js';
import type { AttemptRecord } from '../../core/types.js';
import type { AgentLinks } from '../agent-links.js';
import type { HotState } from '../state/hot-state.js';
import type { StateMachine } from '../state/state-machine.js';

export interface LivenessOptions {
  readonly clock: Clock;
  readonly heartbeatMs: number;
  /** A node with no heartbeat for this long is unreachable. */
  readonly unreachableAfterMs: number;
  /** An unreachable node's attempts are declared lost (and re-placed) after this long. */
  readonly lostAfterMs: number;
}

/**
 * Twice per heartbeat: ready nodes that went silent become unreachable (and their socket is
 * dropped), unreachable nodes past their deadline go down and their attempts are lost, so the
 * scheduler places those tasks again.
 */
export class LivenessLoop {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly links: AgentLinks,
    private readonly options: LivenessOptions,
    private readonly onWorkLost: () => void,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(50, Math.floor(options.heartbeatMs / 2)));
  }

  close(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const now = this.options.clock.now();
    for (const live of this.hot.nodes.values()) {
      if (live.record.state === 'ready' && now - live.lastHeartbeatAt > this.options.unreachableAfterMs) {
        live.lostDeadline = now + this.options.lostAfterMs;
        this.sm.setNodeState(live, 'unreachable', `no heartbeat for ${now - live.lastHeartbeatAt} ms`);
        // A silent socket is likely half-open (a powered-off box sends no FIN): drop it, so the
        // agent, if alive, reconnects on a fresh one and a rebuilt node can join again.
        this.links.get(live.record.name)?.terminate();
      }
      if (live.record.state === 'unreachable' && live.lostDeadline !== null && now > live.lostDeadline) {
        this.sm.setNodeState(live, 'down', 'unreachable past its grace; its work is being re-placed');
        const lost: AttemptRecord[] = [];
        for (const id of [...live.attemptIds]) {
          const attempt = this.hot.attempts.get(id);
          if (!attempt) continue;
          this.sm.loseAttempt(attempt, `node ${live.record.name} is down`);
          lost.push(attempt);
        }
        // A half-open socket may still reach the agent: stop the work that now runs elsewhere.
        this.sm.afterCommit(() => this.links.sendCancels(lost, 'replaced: the node was declared down'));
        this.onWorkLost();
      }
    }
  }
}
