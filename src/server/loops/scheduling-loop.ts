import type { Clock } from '../../core/clock.js';
import { chunkByJsonSize, groupBy } from '../../core/collections.js';
import type { AttemptRecord } from '../../core/types.js';
import { MAX_MESSAGE_BYTES, type AttemptAssignment } from '../../protocol/messages.js';
import { schedule, snapshotNodeFrom, type PlacementRequest } from '../../scheduler/engine.js';
import type { AgentLinks } from '../agent-links.js';
import type { HotState } from '../state/hot-state.js';
import type { StateMachine } from '../state/state-machine.js';

/** Node fires at once for delays past 2^31-1 ms; longer waits wake at that horizon and look again. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Agents refuse messages over MAX_MESSAGE_BYTES; runs are split well below it. */
const MAX_RUN_MESSAGE_BYTES = MAX_MESSAGE_BYTES / 4;

export interface SchedulingOptions {
  readonly clock: Clock;
  /** Most pending tasks considered in one round. */
  readonly maxTasksPerRound: number;
}

/**
 * The scheduling round: pending tasks and a snapshot of the nodes go to the pure engine; its
 * plan becomes attempts (through the state machine) and, once committed, run messages. A round
 * runs at most once per event-loop turn, whenever something could change its outcome.
 */
export class SchedulingLoop {
  private scheduled = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The last unplaceable message reported per job, so a waiting job is not re-reported every round. */
  private readonly lastUnplaceable = new Map<string, string>();

  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly links: AgentLinks,
    private readonly options: SchedulingOptions,
  ) {}

  request(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.round());
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private round(): void {
    this.scheduled = false;
    if (this.closed) return;
    const now = this.options.clock.now();
    let earliestRetry = Number.POSITIVE_INFINITY;
    const ids = this.hot.pending.take(this.options.maxTasksPerRound, (id) => {
      const notBefore = this.hot.tasks.get(id)?.notBefore ?? 0;
      if (notBefore <= now) return true;
      earliestRetry = Math.min(earliestRetry, notBefore);
      return false;
    });
    // A full round may not have looked at every waiting retry: keep the timer it had then.
    if (Number.isFinite(earliestRetry) || ids.length < this.options.maxTasksPerRound) this.armRetryTimer(earliestRetry, now);
    if (ids.length === 0) return;

    const snapshot = {
      now,
      nodes: [...this.hot.nodes.values()].map((n) =>
        snapshotNodeFrom(n.record, { cpuMillis: n.allocatedCpuMillis, memoryBytes: n.allocatedMemoryBytes }),
      ),
    };
    const requests: PlacementRequest[] = ids.map((id) => {
      const task = this.hot.tasks.get(id)!;
      const spec = this.hot.jobs.get(task.jobId)!.record.spec;
      return {
        taskId: task.id, jobId: task.jobId, groupKey: task.jobId,
        resources: { cpuMillis: spec.resources.cpu, memoryBytes: spec.resources.memory },
        constraints: spec.constraints,
      };
    });
    const plan = schedule(snapshot, requests, { seed: now });

    const runs = new Map<string, AttemptAssignment[]>();
    for (const assignment of plan.assignments) {
      const attempt = this.sm.placeTask(assignment.taskId, this.hot.nodes.get(assignment.node)!, assignment.explanation);
      const list = runs.get(assignment.node) ?? [];
      list.push(this.assignmentFor(attempt));
      runs.set(assignment.node, list);
    }
    this.sm.afterCommit(() => this.send(runs));
    this.reportUnplaceable(plan.unplaced);
    // A full round means more may be ready; anything else waits for capacity, a node or a retry.
    if (ids.length >= this.options.maxTasksPerRound && plan.assignments.length > 0) this.request();
  }

  private send(runs: ReadonlyMap<string, readonly AttemptAssignment[]>): void {
    for (const [node, attempts] of runs) {
      const link = this.links.get(node);
      // An attempt lost before this commit (its agent reconnected without it) must not start.
      const current = attempts.filter((a) => this.hot.attempts.get(a.attemptId)?.state === 'assigned');
      if (link) for (const batch of chunkByJsonSize(current, MAX_RUN_MESSAGE_BYTES)) link.send({ type: 'attempts.run', attempts: batch });
    }
  }

  private reportUnplaceable(unplaced: readonly { taskId: string; message: string; reasons: Readonly<Record<string, number>> }[]): void {
    for (const jobId of this.lastUnplaceable.keys()) if (!this.hot.jobs.has(jobId)) this.lastUnplaceable.delete(jobId);
    for (const [jobId, tasks] of groupBy(unplaced, (u) => this.hot.tasks.get(u.taskId)!.jobId)) {
      const first = tasks[0]!;
      for (const u of tasks) this.hot.waitingReasons.set(u.taskId, u.message);
      if (this.lastUnplaceable.get(jobId) === first.message) continue;
      this.lastUnplaceable.set(jobId, first.message);
      this.sm.noteUnplaceable(jobId, tasks.map((u) => u.taskId), first.message, first.reasons);
    }
  }

  private armRetryTimer(earliest: number, now: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (Number.isFinite(earliest)) this.retryTimer = setTimeout(() => this.request(), Math.min(MAX_TIMER_MS, Math.max(1, earliest - now)));
  }

  private assignmentFor(attempt: AttemptRecord): AttemptAssignment {
    const task = this.hot.tasks.get(attempt.taskId)!;
    const spec = this.hot.jobs.get(attempt.jobId)!.record.spec;
    return {
      attemptId: attempt.id, epoch: attempt.epoch, taskId: task.id, jobId: task.jobId, index: task.index,
      command: spec.command, env: spec.env, cpuMillis: spec.resources.cpu, memoryBytes: spec.resources.memory,
      timeoutMs: spec.timeout ?? null, killGraceMs: spec.killGrace,
    };
  }
}
