import type { Clock } from '../../core/clock.js';
import { isConnectedNodeState } from '../../core/states.js';
import type { AttemptRecord } from '../../core/types.js';
import type { AgentLinks } from '../agent-links.js';
import type { HotState, LiveNode } from '../state/hot-state.js';
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
 * Four times per heartbeat: connected nodes that went silent become unreachable (and their socket
 * is dropped), unreachable nodes past their deadline go down and their attempts are lost, and
 * draining nodes past their deadline have their attempts moved, so the scheduler places those
 * tasks again. The tick bounds how late a deadline is noticed, so it is kept short.
 */
export class LivenessLoop {
  private readonly timer: NodeJS.Timeout;
  /** One-off checks at known deadlines, so a dead node's work moves on time, not up to a tick late. */
  private readonly wakeups = new Set<NodeJS.Timeout>();

  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly links: AgentLinks,
    private readonly options: LivenessOptions,
    private readonly onWorkLost: () => void,
  ) {
    this.timer = setInterval(() => this.checkNow(), Math.max(25, Math.floor(options.heartbeatMs / 4)));
  }

  close(): void {
    clearInterval(this.timer);
    for (const wakeup of this.wakeups) clearTimeout(wakeup);
    this.wakeups.clear();
  }

  /** Checks again just after `time` (epoch ms), besides the regular ticks. */
  checkAt(time: number): void {
    const wakeup = setTimeout(() => {
      this.wakeups.delete(wakeup);
      this.checkNow();
    }, Math.max(0, time - this.options.clock.now()) + 1);
    this.wakeups.add(wakeup);
  }

  checkNow(): void {
    const now = this.options.clock.now();
    for (const live of this.hot.nodes.values()) {
      if (isConnectedNodeState(live.record.state) && now - live.lastHeartbeatAt > this.options.unreachableAfterMs) {
        live.lostDeadline = now + this.options.lostAfterMs;
        this.checkAt(live.lostDeadline);
        this.sm.setNodeState(live, 'unreachable', `no heartbeat for ${now - live.lastHeartbeatAt} ms`);
        // A silent socket is likely half-open (a powered-off box sends no FIN): drop it, so the
        // agent, if alive, reconnects on a fresh one and a rebuilt node can join again.
        this.links.get(live.record.name)?.terminate();
      }
      if (live.record.state === 'unreachable' && live.lostDeadline !== null && now > live.lostDeadline) {
        this.sm.setNodeState(live, 'down', 'unreachable past its grace; its work is being re-placed');
        this.takeAttempts(live, `node ${live.record.name} is down`, 'node_lost', 'replaced: the node was declared down');
      }
      if (live.record.drainDeadline !== null) this.drain(live, now);
    }
  }

  /** Moves a draining node's work at its deadline, and completes the drain once nothing runs there. */
  private drain(live: LiveNode, now: number): void {
    if (live.attemptIds.size > 0 && now >= live.record.drainDeadline!) {
      this.takeAttempts(live, `moved off ${live.record.name}: its drain deadline passed`, 'moved', 'the node is draining; the task runs elsewhere');
    }
    if (live.attemptIds.size === 0) this.sm.setNodeHold(live, { cordoned: true, drainDeadline: null }, 'drain complete: nothing runs on the node');
  }

  /** Declares every attempt on the node lost and, once that is committed, tells the agent (if it still listens) to stop them. */
  private takeAttempts(live: LiveNode, why: string, cause: 'node_lost' | 'moved', cancelReason: string): void {
    const taken: AttemptRecord[] = [];
    for (const id of [...live.attemptIds]) {
      const attempt = this.hot.attempts.get(id);
      if (!attempt) continue;
      this.sm.loseAttempt(attempt, why, cause);
      taken.push(attempt);
    }
    if (taken.length === 0) return;
    this.sm.afterCommit(() => this.links.sendCancels(taken, cancelReason));
    this.onWorkLost();
  }
}
