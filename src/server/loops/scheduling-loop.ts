import type { Clock } from '../../core/clock.js';
import { chunkByJsonSize, groupBy } from '../../core/collections.js';
import { readsData, stageOf } from '../../core/job-spec.js';
import type { AttemptRecord, JobRecord, NodeRecord, TaskRecord } from '../../core/types.js';
import { MAX_MESSAGE_BYTES, type AttemptAssignment, type AttemptInput, type AttemptOutput, type AttemptSecret } from '../../protocol/messages.js';
import type { StageSpec } from '../../core/job-spec.js';
import type { LiveJob } from '../state/hot-state.js';
import type { PolicySpec } from '../../core/policy-spec.js';
import { PlacementCache, requestFromJob, stageGroupKey, schedule, snapshotNodeFrom, verifyPlan, type PlacementRequest, type Plan, type SchedulerSnapshot, type SnapshotNode, type TaskInput } from '../../scheduler/engine.js';
import type { AgentLinks } from '../agent-links.js';
import type { Pricing } from '../pricing.js';
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
  /** Most jobs considered in one round; the others get the next rounds. Default 16. */
  readonly maxJobsPerRound?: number;
  /** Where a task's input partitions live now (the data catalog); tasks of jobs without data skip it. */
  readonly inputsOf?: (job: JobRecord, task: TaskRecord) => TaskInput[];
  /** What an attempt needs to fetch its inputs: holders and signed tokens, for the agent. */
  readonly inputGrants?: (job: JobRecord, task: TaskRecord, node: NodeRecord) => AttemptInput[];
  /** Where the attempt's output files go, for stages with an `output`. */
  readonly outputFor?: (job: JobRecord, task: TaskRecord) => AttemptOutput | undefined;
  /** The opened secrets of an attempt's stage, for its agent only (server/secrets/job-secrets.ts). */
  readonly secretsFor?: (job: LiveJob, task: TaskRecord, stage: StageSpec) => AttemptSecret[];
  /** Told about a round that failed (an engine bug or a plan that broke a hard rule). */
  readonly onSchedulerError?: (error: unknown) => void;
  /** Told what each round that looked at ready tasks did (for metrics). */
  readonly onRound?: (report: RoundReport) => void;
}

/** What one scheduling round that looked at ready tasks did. */
export interface RoundReport {
  /** Wall time of the round, from taking tasks off the queue to the last placement recorded. */
  readonly durationMs: number;
  /** False when the engine or the plan check threw, so nothing was placed. */
  readonly ok: boolean;
  /** For each task placed: ms from when it became ready (created, or its retry came due) to this round. */
  readonly waitsMs: readonly number[];
}

/** After a failed round, the wait before the next one; it doubles while rounds keep failing. */
const FIRST_ERROR_BACKOFF_MS = 1000;
const MAX_ERROR_BACKOFF_MS = 60_000;

/**
 * The scheduling round: pending tasks and a snapshot of the nodes go to the pure engine; its
 * plan becomes attempts (through the state machine) and, once committed, run messages. A round
 * runs at most once per event-loop turn, whenever something could change its outcome.
 */
export class SchedulingLoop {
  private scheduled = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** When the retry timer fires; Infinity when it is not armed. */
  private retryAt = Number.POSITIVE_INFINITY;
  /** The last unplaceable message reported per job, so a waiting job is not re-reported every round. */
  private readonly lastUnplaceable = new Map<string, string>();
  private policyCache: { version: number; policies: readonly PolicySpec[] } | undefined;
  private readonly cache = new PlacementCache();
  private fleetVersion = 0;
  private lastFleet: { nodes: readonly SnapshotNode[]; policies: readonly PolicySpec[]; pricing: Pricing } | undefined;
  /** Jobs looked at since the last round that placed something; a full sweep with none placed stops. */
  private idleJobsSeen = 0;
  /** The wait after the next failed round; back to the first value after a round that works. */
  private errorBackoffMs = FIRST_ERROR_BACKOFF_MS;
  /** No round runs before this time after one failed, whatever asks for it. */
  private pausedUntil = 0;

  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly links: AgentLinks,
    private readonly options: SchedulingOptions,
  ) {}

  /** Something changed that could let waiting work run: look at every job again. */
  request(): void {
    this.idleJobsSeen = 0;
    this.schedule();
  }

  private schedule(): void {
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
    if (now < this.pausedUntil) {
      this.armRetryTimer(this.pausedUntil, now);
      return;
    }
    const startedAt = performance.now();
    let earliestRetry = Number.POSITIVE_INFINITY;
    const { pending } = this.hot;
    const ids = pending.take(this.options.maxTasksPerRound, (id) => {
      const task = this.hot.tasks.get(id);
      // Held by a budget that queues: released (and scheduled) when there is budget again.
      if (task !== undefined && this.hot.jobs.get(task.jobId)?.record.heldBy != null) return false;
      const notBefore = task?.notBefore ?? 0;
      if (notBefore <= now) return true;
      earliestRetry = Math.min(earliestRetry, notBefore);
      return false;
    }, this.options.maxJobsPerRound ?? 16);
    const sawEveryJob = pending.jobsLeftOut === 0;
    // A round that did not look at every task may have missed a waiting retry: it may bring the
    // timer forward but not clear it.
    if (sawEveryJob && ids.length < this.options.maxTasksPerRound) this.armRetryTimer(earliestRetry, now);
    else if (Number.isFinite(earliestRetry)) this.armRetryTimer(Math.min(earliestRetry, this.retryAt), now);
    if (ids.length === 0) {
      this.continueSweep(false, pending.jobsSeen, sawEveryJob);
      return;
    }

    let plan: Plan;
    try {
      plan = this.plan(ids, now);
    } catch (error) {
      this.roundFailed(error, now);
      this.options.onRound?.({ durationMs: performance.now() - startedAt, ok: false, waitsMs: [] });
      return;
    }
    this.errorBackoffMs = FIRST_ERROR_BACKOFF_MS;

    const runs = new Map<string, AttemptAssignment[]>();
    const waitsMs: number[] = [];
    for (const assignment of plan.assignments) {
      const task = this.hot.tasks.get(assignment.taskId)!;
      // A retry is ready when its backoff ends (`notBefore`); a new task when it is created.
      waitsMs.push(Math.max(0, now - Math.max(task.createdAt, task.notBefore)));
      const attempt = this.sm.placeTask(assignment.taskId, this.hot.nodes.get(assignment.node)!, assignment.explanation);
      const list = runs.get(assignment.node) ?? [];
      list.push(this.assignmentFor(attempt));
      runs.set(assignment.node, list);
    }
    this.sm.afterCommit(() => this.send(runs));
    this.reportUnplaceable(plan.unplaced);
    this.options.onRound?.({ durationMs: performance.now() - startedAt, ok: true, waitsMs });
    const placed = plan.assignments.length > 0;
    // A full round means more may be ready; anything else waits for capacity, a node or a retry.
    if (ids.length >= this.options.maxTasksPerRound && placed) this.schedule();
    else this.continueSweep(placed, pending.jobsSeen, sawEveryJob);
  }

  /** Snapshot in, plan out, and the plan checked against every hard rule before anything commits. */
  private plan(ids: readonly string[], now: number): Plan {
    const requests: PlacementRequest[] = ids.map((id) => {
      const task = this.hot.tasks.get(id)!;
      const job = this.hot.jobs.get(task.jobId)!.record;
      return requestFromJob(job, task, readsData(stageOf(job.spec, task.stage)) ? this.options.inputsOf?.(job, task) : undefined);
    });
    const snapshot = this.snapshot(requests, now);
    // The seed orders equal nodes; keeping it while the fleet is unchanged lets the engine keep
    // its per-class heaps from round to round (they are built in that order).
    const plan = schedule(snapshot, requests, { seed: snapshot.fleetVersion as number, cache: this.cache });
    // Defence in depth: a plan that breaks a hard rule is a bug and must never be committed.
    verifyPlan(snapshot, requests, plan);
    return plan;
  }

  /**
   * What a round would do with these requests now, committing nothing: the same snapshot and seed
   * as a real round, so it places as a real round would unless the fleet changes first (or scores
   * tie, where the seed decides among equals).
   */
  dryRun(requests: readonly PlacementRequest[]): { readonly plan: Plan; readonly snapshot: SchedulerSnapshot } {
    const snapshot = this.snapshot(requests, this.options.clock.now());
    return { plan: schedule(snapshot, requests, { seed: snapshot.fleetVersion as number }), snapshot };
  }

  private snapshot(requests: readonly PlacementRequest[], now: number): SchedulerSnapshot {
    const pricing = this.hot.pricing;
    const nodes = [...this.hot.nodes.values()].map((n) =>
      snapshotNodeFrom(n.record, { cpuMillis: n.allocatedCpuMillis, memoryBytes: n.allocatedMemoryBytes }, pricing.node(n.record).hour),
    );
    const policies = this.currentPolicies();
    return {
      now, nodes, policies, pricing: pricing.transfer, placed: this.spreadPlacements(requests), fleetVersion: this.fleetVersionOf(nodes, policies, pricing),
    };
  }

  /**
   * A round threw before committing anything: a bug in the engine, or a plan that broke a hard
   * rule and was stopped by verifyPlan. Nothing is placed; the failure is logged and recorded as
   * an event, the cache is dropped in case it holds the fault, and the next round waits a while
   * so a fault that repeats does not spin. Work already running is not touched.
   */
  private roundFailed(error: unknown, now: number): void {
    const retryInMs = this.errorBackoffMs;
    this.errorBackoffMs = Math.min(MAX_ERROR_BACKOFF_MS, this.errorBackoffMs * 2);
    this.cache.clear();
    this.lastFleet = undefined;
    this.options.onSchedulerError?.(error);
    this.sm.noteSchedulerError(error instanceof Error ? error.message : String(error), retryInMs);
    this.pausedUntil = now + retryInMs;
    this.armRetryTimer(this.pausedUntil, now);
  }

  /** Jobs left out of this round get the next one, until a whole sweep of the jobs placed nothing. */
  private continueSweep(placed: boolean, jobsSeen: number, sawEveryJob: boolean): void {
    this.idleJobsSeen = placed ? 0 : this.idleJobsSeen + jobsSeen;
    if (!sawEveryJob && this.idleJobsSeen < this.hot.pending.jobCount) this.schedule();
  }

  /**
   * Bumped when anything the engine caches across rounds could differ: a node joined, left or
   * changed state, labels, taints, location, capacity, price or measured round trips, or the
   * policies changed. Allocations and heartbeats do not count.
   */
  private fleetVersionOf(nodes: readonly SnapshotNode[], policies: readonly PolicySpec[], pricing: Pricing): number {
    const previous = this.lastFleet;
    const same = previous !== undefined && previous.policies === policies && previous.pricing === pricing && previous.nodes.length === nodes.length && nodes.every((n, i) => sameFixedFields(n, previous.nodes[i]!));
    if (!same) this.fleetVersion += 1;
    this.lastFleet = { nodes, policies, pricing };
    return this.fleetVersion;
  }

  /** The same array while policies are unchanged, so the engine compiles them once. */
  private currentPolicies(): readonly PolicySpec[] {
    const version = this.hot.policiesVersion;
    if (this.policyCache?.version !== version) this.policyCache = { version, policies: [...this.hot.policies.values()].map((r) => r.spec) };
    return this.policyCache.policies;
  }

  /** Active attempts per node of each job in the round that spreads, for the spread rule. */
  private spreadPlacements(requests: readonly PlacementRequest[]): ReadonlyMap<string, ReadonlyMap<string, number>> {
    const spreading = new Set(requests.filter((r) => r.placement.spread !== undefined).map((r) => r.groupKey));
    const placed = new Map<string, Map<string, number>>();
    if (spreading.size === 0) return placed;
    for (const attempt of this.hot.attempts.values()) {
      if (attempt.state !== 'assigned' && attempt.state !== 'running') continue;
      const task = this.hot.tasks.get(attempt.taskId);
      const key = task === undefined ? undefined : stageGroupKey(attempt.jobId, task.stage);
      if (key === undefined || !spreading.has(key)) continue;
      const perNode = placed.get(key) ?? new Map<string, number>();
      perNode.set(attempt.node, (perNode.get(attempt.node) ?? 0) + 1);
      placed.set(key, perNode);
    }
    return placed;
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
    this.retryAt = earliest;
    if (!Number.isFinite(earliest)) return;
    this.retryTimer = setTimeout(() => {
      this.retryAt = Number.POSITIVE_INFINITY;
      this.request();
    }, Math.min(MAX_TIMER_MS, Math.max(1, earliest - now)));
  }

  /** A task must never run without the secrets its spec names, so a loop that cannot open them refuses. */
  private secretsFor(live: LiveJob, task: TaskRecord, stage: StageSpec): AttemptSecret[] {
    if (this.options.secretsFor === undefined) throw new Error(`job ${live.record.id} has secrets, but this scheduling loop was given no way to open them`);
    return this.options.secretsFor(live, task, stage);
  }

  private assignmentFor(attempt: AttemptRecord): AttemptAssignment {
    const task = this.hot.tasks.get(attempt.taskId)!;
    const live = this.hot.jobs.get(attempt.jobId)!;
    const job = live.record;
    const stage = stageOf(job.spec, task.stage);
    const secrets = Object.keys(stage.secrets).length === 0 ? [] : this.secretsFor(live, task, stage);
    return {
      attemptId: attempt.id, epoch: attempt.epoch, taskId: task.id, jobId: task.jobId, index: task.index,
      stage: stage.name, stageIndex: task.index - (job.stages[task.stage]?.firstTask ?? 0),
      command: stage.command, env: stage.env, cpuMillis: stage.resources.cpu, memoryBytes: stage.resources.memory,
      timeoutMs: stage.timeout ?? null, killGraceMs: stage.killGrace,
      // Specs stored before these fields existed have neither: no network, default limits.
      ...(stage.network === true ? { network: true } : {}),
      ...(stage.limits === undefined ? {} : { limits: stage.limits }),
      ...(readsData(stage) ? { inputs: this.options.inputGrants?.(job, task, this.hot.nodes.get(attempt.node)!.record) ?? [] } : {}),
      ...output(this.options.outputFor?.(job, task)),
      ...(secrets.length === 0 ? {} : { secrets }),
    };
  }
}

function output(value: AttemptOutput | undefined): { output?: AttemptOutput } {
  return value === undefined ? {} : { output: value };
}

/** Every field of a snapshot node but its allocation; records share label and taint objects until they change. */
function sameFixedFields(a: SnapshotNode, b: SnapshotNode): boolean {
  return (
    a.name === b.name && a.state === b.state && a.labels === b.labels && a.taints === b.taints && a.rttMs === b.rttMs &&
    a.capacity.cpuMillis === b.capacity.cpuMillis && a.capacity.memoryBytes === b.capacity.memoryBytes &&
    a.provider === b.provider && a.region === b.region && a.zone === b.zone && a.site === b.site && a.kind === b.kind &&
    a.jurisdiction === b.jurisdiction && a.lat === b.lat && a.lon === b.lon && a.priceHour === b.priceHour
  );
}
