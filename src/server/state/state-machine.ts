import type { Clock } from '../../core/clock.js';
import { AtollError } from '../../core/errors.js';
import { attemptId as makeAttemptId, taskId as makeTaskId } from '../../core/ids.js';
import { stageOf, type StageSpec } from '../../core/job-spec.js';
import { partitionId, type PartitionRecord } from '../../core/data-spec.js';
import type { PolicyRecord } from '../../core/policy-spec.js';
import { reservedShare, type PriceBook } from '../../core/price-book.js';
import {
  ATTEMPT_TRANSITIONS,
  canTransition,
  healthyNodeState,
  isConnectedNodeState,
  JOB_TRANSITIONS,
  STAGE_TRANSITIONS,
  type StageState,
  type AttemptState,
  type JobState,
  type NodeState,
  type TaskState,
  TASK_TRANSITIONS,
} from '../../core/states.js';
import type { AttemptRecord, EventType, JobRecord, LogChunk, NodeRecord, StageRun, TaskRecord } from '../../core/types.js';
import type { AttemptResult } from '../../protocol/messages.js';
import type { Explanation } from '../../scheduler/engine.js';
import { emptyCounts, type SealedSecrets } from '../../store/store.js';
import type { CommitQueue } from './commit-queue.js';
import { PRICE_BOOK_SETTING, Pricing } from '../pricing.js';
import { type HotState, type LiveJob, type LiveNode, newLiveNode } from './hot-state.js';

/** No retry waits longer than this, however many failures doubled it. */
export const MAX_RETRY_BACKOFF_MS = 60 * 60 * 1000;

const MS_PER_HOUR = 3_600_000;
const BYTES_PER_GB = 1e9;

/** Stored log bytes per attempt; the agent caps each stream too, this guards the store. */
export const MAX_LOG_BYTES_PER_ATTEMPT = 2 * 2 ** 20;

/**
 * The one writer of state (DESIGN.md). Every change checks its transition against the tables in
 * core/states.ts, updates the hot state, and records the row change and its event in the open
 * batch of the commit queue, so a change and its event are always committed together.
 */
export class StateMachine {
  constructor(
    readonly hot: HotState,
    private readonly queue: CommitQueue,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {}

  committed(): Promise<void> {
    return this.queue.committed();
  }

  afterCommit(run: () => void): void {
    this.queue.changes.afterCommit.push(run);
  }

  // ---- jobs ----

  /**
   * Records a new job (every stage `waiting`) and starts the stages that depend on none.
   * `resolveStage` names the data a stage reads as it starts; see DataCatalog.resolveStage.
   */
  submitJob(job: JobRecord, sealedSecrets?: SealedSecrets): void {
    this.queue.changes.jobs.push(job);
    const live: LiveJob = { record: job, counts: { ...emptyCounts() }, stageCounts: job.stages.map(() => ({ ...emptyCounts() })), firstFailure: null };
    if (sealedSecrets !== undefined) {
      // Written in the job's own transaction: an accepted job always has its secrets.
      this.queue.changes.jobSecrets.push({ jobId: job.id, sealed: sealedSecrets });
      live.sealedSecrets = sealedSecrets;
    }
    this.hot.jobs.set(job.id, live);
    this.event('job.submitted', { jobId: job.id }, { name: job.name, namespace: job.namespace, stages: job.stages.map((s) => s.name) });
    this.startReadyStages(live);
    this.maybeFinishJob(live);
  }

  /** A job accepted over a budget that queues: its tasks wait, saying why, until releaseJob. */
  holdJob(live: LiveJob, message: string): void {
    this.event('job.held', { jobId: live.record.id }, { policy: live.record.heldBy, namespace: live.record.namespace, reason: message });
    this.explainHold(live, message);
  }

  /** Each waiting task of a held job says why it waits (also after a restart, from `heldBy`). */
  explainHold(live: LiveJob, message: string): void {
    for (const task of this.tasksOfJob(live.record.id)) if (task.state === 'pending') this.hot.waitingReasons.set(task.id, `held: ${message}`);
  }

  /** The job's namespace has budget again: its tasks may be placed. */
  releaseJob(live: LiveJob, why: string): void {
    live.record = { ...live.record, heldBy: null };
    this.queue.changes.patchJob({ id: live.record.id, heldBy: null });
    this.event('job.released', { jobId: live.record.id }, { namespace: live.record.namespace, reason: why });
    for (const task of this.tasksOfJob(live.record.id)) this.hot.waitingReasons.delete(task.id);
  }

  /** Names a stage's data as it starts (outputs of earlier stages); throws an AtollError when it cannot start. */
  resolveStage: (job: JobRecord, index: number) => StageSpec = (job, index) => stageOf(job.spec, index);

  cancelJob(jobId: string, reason: string): AttemptRecord[] {
    const live = this.requireLiveJob(jobId);
    this.event('job.cancel_requested', { jobId }, { reason });
    const stopped: AttemptRecord[] = [];
    for (const task of this.tasksOfJob(jobId)) {
      const attempt = task.currentAttemptId ? this.hot.attempts.get(task.currentAttemptId) : undefined;
      if (attempt) {
        this.moveAttempt(attempt, 'cancelled', { reason, finishedAt: this.clock.now() });
        this.event('attempt.finished', { jobId, taskId: task.id, attemptId: attempt.id, node: attempt.node }, {
          outcome: 'cancelled', exitCode: null, reason, epoch: attempt.epoch,
        });
        stopped.push(attempt);
      }
      this.moveTask(task, 'cancelled', { reason, finishedAt: this.clock.now() });
      this.event('task.cancelled', { jobId, taskId: task.id }, { reason, from: task.state });
    }
    live.record.stages.forEach((run, i) => {
      if (run.state === 'running') this.moveStage(live, i, 'cancelled', { reason });
      else if (run.state === 'waiting') this.moveStage(live, i, 'skipped', { reason });
    });
    this.finishJob(live, 'cancelled', reason);
    return stopped;
  }

  private finishJob(live: LiveJob, state: JobState, reason: string | null): void {
    const now = this.clock.now();
    this.moveJob(live, state, { finishedAt: now, reason });
    this.event('job.finished', { jobId: live.record.id }, { state, reason, counts: { ...live.counts } });
    // No attempt of a finished job runs again, so its secrets have no more use anywhere.
    if (live.sealedSecrets !== undefined) this.queue.changes.deletedJobSecrets.push(live.record.id);
    this.hot.jobs.delete(live.record.id);
  }

  /** Starts every waiting stage whose dependencies have all succeeded, unless a stage has failed. */
  private startReadyStages(live: LiveJob): void {
    const { spec } = live.record;
    for (let i = 0; i < spec.stages.length; i += 1) {
      if (live.record.stages.some((run) => run.state === 'failed')) return;
      if (live.record.stages[i]!.state !== 'waiting') continue;
      const ready = spec.stages[i]!.dependsOn.every((dep) => live.record.stages.find((run) => run.name === dep)?.state === 'succeeded');
      if (ready) this.startStage(live, i);
    }
  }

  /** Creates the stage's tasks, numbered on from the job's last task. */
  private startStage(live: LiveJob, index: number): void {
    let stage: StageSpec;
    try {
      stage = this.resolveStage(live.record, index);
    } catch (error) {
      if (!(error instanceof AtollError)) throw error;
      // Expected: an earlier stage wrote nothing to read, or too much. The stage fails with why.
      this.moveStage(live, index, 'failed', { reason: error.message });
      live.firstFailure ??= error.message;
      return;
    }
    const now = this.clock.now();
    const firstTask = live.record.taskCount;
    const tasks: TaskRecord[] = [];
    for (let k = 0; k < stage.tasks; k += 1) {
      tasks.push({
        id: makeTaskId(live.record.id, firstTask + k), jobId: live.record.id, index: firstTask + k, stage: index, state: 'pending', node: null,
        attempts: 0, failures: 0, losses: 0, currentAttemptId: null, epoch: 0, exitCode: null, reason: null, notBefore: 0,
        createdAt: now, startedAt: null, finishedAt: null,
      });
    }
    const stages = live.record.spec.stages.map((s, i) => (i === index ? stage : s));
    const spec = { ...live.record.spec, stages };
    live.record = { ...live.record, spec, taskCount: firstTask + tasks.length };
    this.queue.changes.patchJob({ id: live.record.id, spec, taskCount: live.record.taskCount });
    this.moveStage(live, index, 'running', { firstTask, tasks: tasks.length, startedAt: now });
    this.queue.changes.tasks.push(...tasks);
    live.counts.pending += tasks.length;
    live.stageCounts[index]!.pending += tasks.length;
    for (const task of tasks) {
      this.hot.tasks.set(task.id, task);
      this.hot.pending.add(task);
    }
  }

  /**
   * After a task of stage `index` ended: the stage ends when its last task does (succeeded if all
   * did), which may start the stages waiting for it; the job ends when nothing is left to run.
   */
  private taskEnded(live: LiveJob, index: number): void {
    const counts = live.stageCounts[index]!;
    const run = live.record.stages[index]!;
    if (run.state === 'running' && counts.pending + counts.assigned + counts.running === 0) {
      const unfinished = counts.failed + counts.cancelled;
      if (unfinished === 0) {
        this.moveStage(live, index, 'succeeded', {});
        this.startReadyStages(live);
      } else {
        this.moveStage(live, index, 'failed', { reason: `${unfinished} of ${run.tasks} tasks did not succeed` });
      }
    }
    this.maybeFinishJob(live);
  }

  /**
   * A job ends when nothing of it runs and nothing more can start: succeeded if every stage did,
   * failed otherwise, with the stages that never started marked skipped.
   */
  private maybeFinishJob(live: LiveJob): void {
    const { counts } = live;
    if (counts.pending + counts.assigned + counts.running > 0) return;
    const stages = live.record.stages;
    if (stages.every((run) => run.state === 'succeeded')) {
      this.finishJob(live, 'succeeded', null);
      return;
    }
    const failed = stages.filter((run) => run.state === 'failed').map((run) => run.name);
    const why = failed.length > 0 ? `stage ${failed.join(', ')} failed` : 'the stages it depends on did not all succeed';
    stages.forEach((run, i) => {
      if (run.state === 'waiting') this.moveStage(live, i, 'skipped', { reason: `not started: ${why}` });
    });
    const first = live.firstFailure ? ` (first: ${live.firstFailure})` : '';
    const unfinished = counts.failed + counts.cancelled;
    const reason = unfinished > 0 ? `${unfinished} of ${live.record.taskCount} tasks did not succeed${first}` : `${why}${first}`;
    this.finishJob(live, 'failed', reason);
  }

  private moveStage(live: LiveJob, index: number, to: StageState, patch: Partial<StageRun>): void {
    const run = live.record.stages[index]!;
    if (!canTransition(STAGE_TRANSITIONS, run.state, to)) throw illegal('stage', `${live.record.id}/${run.name}`, run.state, to);
    const terminal = STAGE_TRANSITIONS[to].length === 0;
    const next: StageRun = { ...run, ...patch, state: to, ...(terminal ? { finishedAt: this.clock.now() } : {}) };
    const stages = live.record.stages.map((s, i) => (i === index ? next : s));
    live.record = { ...live.record, stages };
    this.queue.changes.patchJob({ id: live.record.id, stages });
    const refs = { jobId: live.record.id };
    if (to === 'running') this.event('stage.started', refs, { stage: run.name, tasks: next.tasks, firstTask: next.firstTask });
    else this.event('stage.finished', refs, { stage: run.name, state: to, reason: next.reason, counts: { ...live.stageCounts[index]! } });
  }

  // ---- placement and attempts ----

  /** Creates the task's next attempt on `node` with a new fencing epoch. */
  placeTask(taskId: string, node: LiveNode, explanation: Explanation): AttemptRecord {
    const task = this.requireTask(taskId);
    const job = this.requireLiveJob(task.jobId);
    const { resources } = stageOf(job.record.spec, task.stage);
    // Check before any side effect: a refused placement must leave no attempt or reservation behind.
    if (!canTransition(TASK_TRANSITIONS, task.state, 'assigned')) throw illegal('task', task.id, task.state, 'assigned');
    const epoch = task.epoch + 1;
    const now = this.clock.now();
    const attempt: AttemptRecord = {
      id: makeAttemptId(task.id, epoch), taskId: task.id, jobId: task.jobId, epoch, node: node.record.name,
      state: 'assigned', exitCode: null, reason: null, createdAt: now, startedAt: null, finishedAt: null,
    };
    this.queue.changes.attempts.push(attempt);
    this.hot.attempts.set(attempt.id, attempt);
    node.attemptIds.add(attempt.id);
    node.allocatedCpuMillis += resources.cpu;
    node.allocatedMemoryBytes += resources.memory;
    this.hot.waitingReasons.delete(task.id);
    this.moveTask(task, 'assigned', { node: node.record.name, epoch, currentAttemptId: attempt.id, attempts: task.attempts + 1, reason: null });
    this.event('task.placed', { jobId: task.jobId, taskId: task.id, attemptId: attempt.id, node: node.record.name }, { epoch, score: explanation.chosen.total, explanation });
    return attempt;
  }

  /** Idempotent: a start reported twice, or for an attempt no longer active, changes nothing. */
  markStarted(given: AttemptRecord, startedAt: number): void {
    const attempt = this.hot.attempts.get(given.id);
    if (attempt?.state !== 'assigned') return;
    this.moveAttempt(attempt, 'running', { startedAt });
    const task = this.requireTask(attempt.taskId);
    this.moveTask(task, 'running', { startedAt: task.startedAt ?? startedAt });
    const live = this.requireLiveJob(task.jobId);
    if (live.record.state === 'pending') {
      this.moveJob(live, 'running', { startedAt });
      this.event('job.started', { jobId: live.record.id }, {});
    }
    this.event('attempt.started', { jobId: attempt.jobId, taskId: attempt.taskId, attemptId: attempt.id, node: attempt.node }, { epoch: attempt.epoch });
  }

  /** Applies a result from the task's current attempt. The caller has checked fencing. */
  finishAttempt(attempt: AttemptRecord, result: AttemptResult): void {
    const now = this.clock.now();
    const task = this.requireTask(attempt.taskId);
    const live = this.requireLiveJob(task.jobId);
    if (this.requireAttempt(attempt.id).state === 'assigned' && result.startedAt !== null) this.markStarted(attempt, result.startedAt);
    const current = this.requireAttempt(attempt.id);
    const state: AttemptState = result.outcome;
    this.moveAttempt(current, state, {
      exitCode: result.exitCode, reason: result.reason, finishedAt: result.finishedAt,
      startedAt: current.startedAt ?? result.startedAt,
    });
    this.event('attempt.finished', { jobId: task.jobId, taskId: task.id, attemptId: attempt.id, node: attempt.node }, {
      outcome: result.outcome, exitCode: result.exitCode, reason: result.reason, epoch: attempt.epoch,
    });
    const latest = this.requireTask(task.id);
    if (result.outcome === 'succeeded') {
      this.moveTask(latest, 'succeeded', { exitCode: result.exitCode, finishedAt: now, reason: null });
    } else if (result.outcome === 'cancelled') {
      // The agent stopped it on its own (e.g. it is shutting down): not the task's fault, run it again.
      this.requeue(latest, `attempt ${attempt.id} was stopped on ${attempt.node}: ${result.reason ?? 'cancelled'}`, 0);
    } else {
      const failures = latest.failures + 1;
      const { retry } = stageOf(live.record.spec, task.stage);
      const why = result.reason ?? 'failed';
      if (failures <= retry.attempts) {
        // Exponential backoff, capped, with jitter in [0.5, 1.0) of the nominal delay.
        const nominal = Math.min(retry.backoff * 2 ** (failures - 1), MAX_RETRY_BACKOFF_MS);
        const delay = Math.floor(nominal * (0.5 + this.random() / 2));
        this.requeue({ ...latest, failures }, why, delay);
        this.event('task.retry_scheduled', { jobId: task.jobId, taskId: task.id }, { failures, delayMs: delay, reason: why });
      } else {
        const reason = retry.attempts > 0 ? `${why} (after ${failures} attempts)` : why;
        this.moveTask(latest, 'failed', { failures, exitCode: result.exitCode, reason, finishedAt: now });
        live.firstFailure ??= `task ${task.index}: ${reason}`;
      }
    }
    this.taskEnded(live, task.stage);
  }

  /**
   * The attempt's node is gone or no longer runs it: the task goes back to the queue without
   * charging its retry budget. A lost node (`node_lost`) counts against `retry.nodeLosses`, so a
   * task that brings down every node it lands on stops; work an operator moved (`moved`: a drain,
   * a node leaving) does not count at all.
   */
  loseAttempt(attempt: AttemptRecord, why: string, cause: 'node_lost' | 'moved' = 'node_lost'): void {
    this.moveAttempt(attempt, 'lost', { reason: why, finishedAt: this.clock.now() });
    this.event('attempt.lost', { jobId: attempt.jobId, taskId: attempt.taskId, attemptId: attempt.id, node: attempt.node }, { reason: why, cause });
    const task = this.hot.tasks.get(attempt.taskId);
    if (!task || task.currentAttemptId !== attempt.id) return;
    if (cause === 'moved') {
      this.requeue(task, why, 0);
      return;
    }
    const live = this.requireLiveJob(task.jobId);
    const losses = task.losses + 1;
    const allowed = stageOf(live.record.spec, task.stage).retry.nodeLosses;
    if (losses <= allowed) {
      this.requeue({ ...task, losses }, why, 0);
      return;
    }
    const reason = `lost its node ${losses} times (last: ${why}); retry.nodeLosses allows ${allowed}, and a task that keeps losing its node may be what brings nodes down`;
    this.moveTask(task, 'failed', { losses, reason, finishedAt: this.clock.now() });
    live.firstFailure ??= `task ${task.index}: ${reason}`;
    this.taskEnded(live, task.stage);
  }

  recordIgnoredResult(node: string, result: AttemptResult, why: string): void {
    // Attempt ids are `<job>.<index>.<epoch>` (core/ids.ts), so the task and job follow from it.
    const taskId = result.attemptId.slice(0, Math.max(0, result.attemptId.lastIndexOf('.')));
    const jobId = taskId.slice(0, Math.max(0, taskId.lastIndexOf('.'))) || null;
    this.event('attempt.result_ignored', { jobId, taskId, attemptId: result.attemptId, node }, {
      epoch: result.epoch, outcome: result.outcome, reason: why,
    });
  }

  noteUnplaceable(jobId: string, taskIds: readonly string[], message: string, reasons: Readonly<Record<string, number>>): void {
    for (const id of taskIds) this.hot.waitingReasons.set(id, message);
    this.event('task.unplaceable', { jobId }, { tasks: taskIds.length, message, reasons });
  }

  /** A scheduling round failed before committing anything; see SchedulingLoop.roundFailed. */
  noteSchedulerError(message: string, retryInMs: number): void {
    this.event('scheduler.error', {}, { message, retryInMs });
  }

  private requeue(task: TaskRecord, why: string, delayMs: number): void {
    const notBefore = this.clock.now() + delayMs;
    this.moveTask(task, 'pending', { node: null, currentAttemptId: null, reason: why, notBefore, failures: task.failures, losses: task.losses });
    this.hot.waitingReasons.set(task.id, why);
  }

  // ---- nodes ----

  /** A node said hello: create or refresh its record and mark it ready. */
  nodeJoined(record: NodeRecord): LiveNode {
    const existing = this.hot.nodes.get(record.name);
    const now = this.clock.now();
    const live = existing ?? newLiveNode(record, true, now);
    const previous = existing?.record.state;
    live.record = record;
    live.connected = true;
    live.lastHeartbeatAt = now;
    live.lostDeadline = null;
    live.leaving = false;
    this.hot.nodes.set(record.name, live);
    this.queue.changes.nodes.push(record);
    if (!existing) this.event('node.joined', { node: record.name }, { provider: record.provider, region: record.region, jurisdiction: record.jurisdiction });
    else if (previous !== record.state) this.event('node.state_changed', { node: record.name }, { from: previous, to: record.state, reason: 'agent connected' });
    return live;
  }

  setNodeState(live: LiveNode, state: NodeState, reason: string): void {
    const from = live.record.state;
    if (from === state) return;
    live.record = { ...live.record, state, lastSeenAt: live.lastHeartbeatAt };
    this.queue.changes.patchNode({ name: live.record.name, state, lastSeenAt: live.lastHeartbeatAt });
    this.event('node.state_changed', { node: live.record.name }, { from, to: state, reason });
  }

  /**
   * An operator's cordon or drain, kept on the record across reconnects. A connected node shows it
   * in its state at once; an unreachable or down one shows it when its agent is back.
   */
  setNodeHold(live: LiveNode, hold: { readonly cordoned: boolean; readonly drainDeadline: number | null }, reason: string): void {
    const before = live.record;
    if (before.cordoned === hold.cordoned && before.drainDeadline === hold.drainDeadline) return;
    const state = isConnectedNodeState(before.state) ? healthyNodeState(hold) : before.state;
    live.record = { ...before, ...hold, state };
    this.queue.changes.patchNode({ name: before.name, ...hold, state });
    const refs = { node: before.name };
    if (hold.drainDeadline !== null && before.drainDeadline === null) this.event('node.drain_started', refs, { deadline: hold.drainDeadline, attempts: live.attemptIds.size, reason });
    else if (hold.drainDeadline === null && before.drainDeadline !== null && hold.cordoned) this.event('node.drained', refs, { reason });
    else if (hold.cordoned && !before.cordoned) this.event('node.cordoned', refs, { reason });
    else if (!hold.cordoned && before.cordoned) this.event('node.uncordoned', refs, { reason });
    if (state !== before.state) this.event('node.state_changed', refs, { from: before.state, to: state, reason });
  }

  /**
   * The agent's round trips moved enough to matter. A new object (the scheduler tells a changed
   * fleet by identity), written through like other node fields; a measurement, not an event.
   */
  setNodeRtt(live: LiveNode, rttMs: Readonly<Record<string, number>>): void {
    live.record = { ...live.record, rttMs };
    this.queue.changes.patchNode({ name: live.record.name, rttMs });
  }

  /** Heartbeats update memory only; lastSeenAt reaches the store with the next state change or refresh. */
  persistNodeSeen(live: LiveNode): void {
    this.queue.changes.patchNode({ name: live.record.name, lastSeenAt: live.record.lastSeenAt, usage: live.record.usage });
  }

  // ---- cluster policies ----

  /** Creates or replaces a policy. The caller has checked it compiles with the others. */
  applyPolicy(record: PolicyRecord): void {
    const previous = this.hot.policies.get(record.name);
    this.hot.policies.set(record.name, record);
    this.hot.policiesVersion += 1;
    this.queue.changes.putPolicy(record);
    // The whole spec goes in the event, so the event log alone shows which rules held when.
    this.event('policy.applied', {}, { name: record.name, created: previous === undefined, spec: record.spec });
  }

  deletePolicy(name: string): PolicyRecord {
    const record = this.hot.policies.get(name);
    if (!record) throw new AtollError('internal', `policy ${name} is not loaded`);
    this.hot.policies.delete(name);
    this.hot.policiesVersion += 1;
    this.queue.changes.deletePolicy(name);
    this.event('policy.deleted', {}, { name, spec: record.spec });
    return record;
  }

  // ---- data catalog ----

  /** A partition was stored on a node (uploaded, registered or written by a task); replaces an entry of the same name. */
  storePartition(record: PartitionRecord): void {
    const id = partitionId(record);
    const previous = this.hot.partitions.get(id);
    this.hot.partitions.set(id, record);
    this.queue.changes.putPartition(record);
    const { namespace, dataset, partition, node, bytes, sha256, residencyClass, createdBy } = record;
    this.event('partition.stored', { node }, { namespace, dataset, partition, bytes, sha256, residencyClass, createdBy, replaced: previous === undefined ? null : { node: previous.node, sha256: previous.sha256 } });
  }

  removePartition(record: PartitionRecord, reason: string): void {
    const id = partitionId(record);
    if (!this.hot.partitions.delete(id)) return;
    this.queue.changes.deletePartition(id);
    const { namespace, dataset, partition, node } = record;
    this.event('partition.removed', { node }, { namespace, dataset, partition, reason });
  }

  /** The transfer ledger: what moved for which attempt, from where to where, how much and how fast. */
  /**
   * A partition crossed the network for an active attempt on `to`: its ledger event, and a charge
   * at the price the book gives the route (billed to the sender, as providers bill egress).
   */
  noteTransfer(attempt: AttemptRecord, to: NodeRecord, transfer: { namespace: string; dataset: string; partition: string; from: string; bytes: number; durationMs: number }): void {
    const id = `transfer:${attempt.id}:${transfer.namespace}/${transfer.dataset}/${transfer.partition}`;
    // One charge and one ledger entry per input of an attempt, however often it is reported.
    const noted = this.hot.transfersNoted.get(attempt.id) ?? new Set<string>();
    if (noted.has(id)) return;
    this.hot.transfersNoted.set(attempt.id, noted.add(id));
    const source = this.hot.nodes.get(transfer.from)?.record;
    const book = this.hot.pricing.book;
    const price = source === undefined ? { perGb: book.transfer.default.internet, class: 'internet' as const } : this.hot.pricing.transferPrice(source, to);
    const dollars = (transfer.bytes / BYTES_PER_GB) * price.perGb;
    const where = (record: NodeRecord | undefined, name: string) =>
      record === undefined ? { node: name } : { node: name, provider: record.provider, region: record.region, site: record.site, jurisdiction: record.jurisdiction };
    this.event('transfer.completed', { jobId: attempt.jobId, taskId: attempt.taskId, attemptId: attempt.id, node: to.name }, {
      namespace: transfer.namespace, dataset: transfer.dataset, partition: transfer.partition, bytes: transfer.bytes, durationMs: transfer.durationMs,
      from: where(source, transfer.from), to: where(to, to.name), priceClass: price.class, dollars,
    });
    this.queue.changes.charges.push({
      id, time: this.clock.now(), kind: 'transfer',
      namespace: this.hot.jobs.get(attempt.jobId)?.record.namespace ?? transfer.namespace, jobId: attempt.jobId, attemptId: attempt.id,
      node: transfer.from, provider: source?.provider ?? '', region: source?.region ?? '', site: source?.site ?? '',
      dollars, bytes: transfer.bytes, runtimeMs: 0, waste: false,
    });
  }

  // ---- spend ----

  /** A namespace's spend crossed 80% (`warning`) or 100% (`exceeded`) of its monthly budget. */
  noteBudget(state: 'warning' | 'exceeded', data: { namespace: string; policy: string; monthly: number; spent: number; share: number; month: string }): void {
    this.event(state === 'warning' ? 'budget.warning' : 'budget.exceeded', {}, data);
  }

  /** Puts a new price book in force: stored for every replica, and used from the next placement on. */
  setPriceBook(book: PriceBook): Pricing {
    const now = this.clock.now();
    this.queue.changes.settings.push({ name: PRICE_BOOK_SETTING, value: book, updatedAt: now });
    this.hot.pricing = new Pricing(book, now);
    this.event('pricing.updated', {}, { computeRules: book.compute.length, asOf: book.asOf ?? null });
    return this.hot.pricing;
  }

  /** What an attempt that has run so far costs: its node's price times its share of the node times its run time. */
  computeCost(attempt: AttemptRecord, until: number): { dollars: number; runtimeMs: number; node: NodeRecord | undefined } {
    const node = this.hot.nodes.get(attempt.node)?.record;
    const job = this.hot.jobs.get(attempt.jobId);
    const task = this.hot.tasks.get(attempt.taskId);
    // Times from the agent's clock are held to what the control plane saw: no earlier than the
    // placement, no later than now, so a skewed or lying agent cannot bill years of runtime.
    const end = Math.min(until, this.clock.now());
    const start = attempt.startedAt === null ? null : Math.min(Math.max(attempt.startedAt, attempt.createdAt), end);
    const runtimeMs = start === null ? 0 : end - start;
    if (node === undefined || job === undefined || task === undefined || runtimeMs === 0) return { dollars: 0, runtimeMs, node };
    const { resources } = stageOf(job.record.spec, task.stage);
    const share = reservedShare({ cpuMillis: resources.cpu, memoryBytes: resources.memory }, node.capacity);
    return { dollars: this.hot.pricing.node(node).hour * share * (runtimeMs / MS_PER_HOUR), runtimeMs, node };
  }

  /** An attempt ended: its compute charge, and if it did not succeed, everything charged for it is waste. */
  private chargeCompute(attempt: AttemptRecord): void {
    const waste = attempt.state !== 'succeeded';
    if (waste) this.queue.changes.wastedAttempts.push(attempt.id);
    const { dollars, runtimeMs, node } = this.computeCost(attempt, attempt.finishedAt ?? this.clock.now());
    if (runtimeMs === 0 || node === undefined) return;
    this.queue.changes.charges.push({
      id: `compute:${attempt.id}`, time: Math.min(attempt.finishedAt ?? this.clock.now(), this.clock.now()), kind: 'compute',
      namespace: this.hot.jobs.get(attempt.jobId)?.record.namespace ?? '', jobId: attempt.jobId, attemptId: attempt.id,
      node: node.name, provider: node.provider, region: node.region, site: node.site, dollars, bytes: 0, runtimeMs, waste,
    });
  }

  /** An agent reported a partition no request or grant of the control plane asked for: not catalogued. */
  noteDataReportIgnored(node: string, data: { namespace: string; dataset: string; partition: string; reason: string }): void {
    this.event('partition.report_ignored', { node }, data);
  }

  /** A holder refused to serve a partition (residency, or a token for something else): recorded with the policy name. */
  noteTransferRefused(node: string, data: { namespace: string; dataset: string; partition: string; for: string; forJurisdiction: string | null; reason: string; policy: string | null }): void {
    this.event('transfer.refused', { node }, data);
  }

  // ---- logs ----

  appendLogs(attempt: AttemptRecord, chunks: readonly { stream: 'stdout' | 'stderr'; time: number; data: string }[]): LogChunk[] {
    const stored: LogChunk[] = [];
    let used = this.hot.logBytes.get(attempt.id) ?? 0;
    for (const chunk of chunks) {
      if (used >= MAX_LOG_BYTES_PER_ATTEMPT) break;
      const bytes = Buffer.byteLength(chunk.data);
      // Cut by bytes, not characters, so multi-byte output cannot overshoot the cap.
      const data = used + bytes > MAX_LOG_BYTES_PER_ATTEMPT
        ? `${Buffer.from(chunk.data).subarray(0, MAX_LOG_BYTES_PER_ATTEMPT - used).toString()}\n[atoll: log truncated at ${MAX_LOG_BYTES_PER_ATTEMPT} bytes]\n`
        : chunk.data;
      used += bytes;
      const log: LogChunk = { seq: ++this.hot.lastLogSeq, attemptId: attempt.id, taskId: attempt.taskId, stream: chunk.stream, time: chunk.time, data };
      stored.push(log);
    }
    this.hot.logBytes.set(attempt.id, used);
    this.queue.changes.logs.push(...stored);
    return stored;
  }

  // ---- transitions ----

  private moveJob(live: LiveJob, to: JobState, patch: Partial<JobRecord>): void {
    const from = live.record.state;
    if (!canTransition(JOB_TRANSITIONS, from, to)) throw illegal('job', live.record.id, from, to);
    live.record = { ...live.record, ...patch, state: to };
    this.queue.changes.patchJob({ id: live.record.id, ...patch, state: to });
  }

  /** `task` may be a caller's copy; the transition is checked against the live record. */
  private moveTask(given: TaskRecord, to: TaskState, patch: Partial<TaskRecord>): void {
    const task = this.requireTask(given.id);
    const from = task.state;
    if (!canTransition(TASK_TRANSITIONS, from, to)) throw illegal('task', task.id, from, to);
    const next: TaskRecord = { ...task, ...patch, state: to };
    const live = this.hot.jobs.get(task.jobId);
    if (live) {
      live.counts[from] -= 1;
      live.counts[to] += 1;
      live.stageCounts[task.stage]![from] -= 1;
      live.stageCounts[task.stage]![to] += 1;
    }
    if (from === 'pending') this.hot.pending.delete(task.id);
    if (to === 'pending') this.hot.pending.add(task);
    if (TASK_TRANSITIONS[to].length === 0) {
      this.hot.tasks.delete(task.id);
      this.hot.waitingReasons.delete(task.id);
    } else {
      this.hot.tasks.set(task.id, next);
    }
    this.queue.changes.patchTask({ id: task.id, ...patch, state: to });
  }

  /** `attempt` may be a caller's copy; the transition is checked against the live record. */
  private moveAttempt(given: AttemptRecord, to: AttemptState, patch: Partial<AttemptRecord>): void {
    const attempt = this.requireAttempt(given.id);
    const from = attempt.state;
    if (!canTransition(ATTEMPT_TRANSITIONS, from, to)) throw illegal('attempt', attempt.id, from, to);
    const next: AttemptRecord = { ...attempt, ...patch, state: to };
    if (ATTEMPT_TRANSITIONS[to].length === 0) {
      this.chargeCompute(next);
      this.hot.attempts.delete(attempt.id);
      this.hot.transfersNoted.delete(attempt.id);
      this.hot.logBytes.delete(attempt.id);
      this.releaseResources(attempt);
    } else {
      this.hot.attempts.set(attempt.id, next);
    }
    this.queue.changes.patchAttempt({ id: attempt.id, ...patch, state: to });
  }

  private releaseResources(attempt: AttemptRecord): void {
    const node = this.hot.nodes.get(attempt.node);
    const job = this.hot.jobs.get(attempt.jobId);
    if (!node || !node.attemptIds.delete(attempt.id) || !job) return;
    // An attempt ends before its task does, so the task (and its stage) is still active here.
    const { resources } = stageOf(job.record.spec, this.requireTask(attempt.taskId).stage);
    node.allocatedCpuMillis -= resources.cpu;
    node.allocatedMemoryBytes -= resources.memory;
    // The last attempt on a draining node ended: the drain is complete, the node stays cordoned.
    if (node.attemptIds.size === 0 && node.record.drainDeadline !== null) {
      this.setNodeHold(node, { cordoned: true, drainDeadline: null }, 'drain complete: nothing runs on the node');
    }
  }

  private event(type: EventType, refs: { jobId?: string | null; taskId?: string; attemptId?: string; node?: string }, data: Record<string, unknown>): void {
    this.queue.changes.events.push({
      seq: ++this.hot.lastEventSeq, time: this.clock.now(), type,
      jobId: refs.jobId ?? null, taskId: refs.taskId ?? null, attemptId: refs.attemptId ?? null, node: refs.node ?? null, data,
    });
  }

  // ---- lookups ----

  tasksOfJob(jobId: string): TaskRecord[] {
    return [...this.hot.tasks.values()].filter((t) => t.jobId === jobId);
  }

  private requireTask(id: string): TaskRecord {
    const task = this.hot.tasks.get(id);
    if (!task) throw new AtollError('internal', `task ${id} is not active`);
    return task;
  }

  private requireAttempt(id: string): AttemptRecord {
    const attempt = this.hot.attempts.get(id);
    if (!attempt) throw new AtollError('internal', `attempt ${id} is not active`);
    return attempt;
  }

  private requireLiveJob(id: string): LiveJob {
    const live = this.hot.jobs.get(id);
    if (!live) throw new AtollError('conflict', `job ${id} has already finished`);
    return live;
  }
}

function illegal(kind: string, id: string, from: string, to: string): AtollError {
  return new AtollError('internal', `illegal ${kind} transition for ${id}: ${from} -> ${to}`);
}
