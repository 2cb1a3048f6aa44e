import fc from 'fast-check';
import { newJobRecord } from '../../core/job-record.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../core/clock.js';
import { AtollError } from '../../core/errors.js';
import { parseJobSpec, stageOf } from '../../core/job-spec.js';
import { parsePolicySpec, type PolicyRecord } from '../../core/policy-spec.js';
import type { TaskState } from '../../core/states.js';
import type { AttemptRecord, EventRecord, EventType, JobRecord, NodeRecord, TaskCounts, TaskRecord } from '../../core/types.js';
import type { AttemptResult } from '../../protocol/messages.js';
import type { Explanation } from '../../scheduler/engine.js';
import { seededRandom } from '../../scheduler/framework/random.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { Store } from '../../store/store.js';
import { CommitQueue } from './commit-queue.js';
import { HotState, type LiveNode } from './hot-state.js';
import { StateMachine } from './state-machine.js';

// Fixtures: a StateMachine over real hot state, a real commit queue and a real in-memory
// SQLite store, with a clock and a random source the test controls.

const START = 1_000_000;

class ManualClock implements Clock {
  constructor(public time = START) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** A random source whose next value the test sets; `seededRandom` for property runs. */
class ScriptedRandom {
  value = 0.5;
  readonly next = (): number => this.value;
}

function anExplanation(node: string): Explanation {
  return { chosen: { node, total: 42, scores: [] }, candidates: [], feasible: 1, nodes: 1, reasons: {}, rejectedSummary: '', rejected: [] };
}

function aNodeRecord(name: string, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name, provider: 'local', region: 'local', zone: '', site: '', kind: 'cloud', jurisdiction: null, lat: null, lon: null,
    capacity: { cpuMillis: 64_000, memoryBytes: 256 * 2 ** 30 }, priceHour: 0, labels: {}, taints: [], rttMs: {}, state: 'ready', cordoned: false, drainDeadline: null, dataUrl: null,
    agentVersion: 'test', joinedAt: START, lastSeenAt: START,
    usage: { runningAttempts: 0, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 }, ...overrides,
  };
}

interface Submitted {
  readonly job: JobRecord;
  readonly tasks: readonly TaskRecord[];
}

class Harness {
  readonly hot = new HotState();
  readonly clock = new ManualClock();
  readonly random = new ScriptedRandom();
  readonly fatal: unknown[] = [];
  readonly sm: StateMachine;
  private jobCounter = 0;

  constructor(readonly store: Store, random?: () => number) {
    const queue = new CommitQueue(store, () => undefined, (error) => this.fatal.push(error));
    this.sm = new StateMachine(this.hot, queue, this.clock, random ?? this.random.next);
  }

  static async open(random?: () => number): Promise<Harness> {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    return new Harness(store, random);
  }

  node(name: string): LiveNode {
    return this.sm.nodeJoined(aNodeRecord(name));
  }

  /** Submits a job the way ControlPlane.submitJob does, with a predictable id. */
  submit(input: Record<string, unknown> = {}): Submitted {
    const spec = parseJobSpec({ name: 'demo', ...('stages' in input ? {} : { command: ['true'] }), ...input });
    this.jobCounter += 1;
    const now = this.clock.now();
    const job = newJobRecord(`${spec.name}-${this.jobCounter}`, spec, now);
    this.sm.submitJob(job);
    return { job: this.hot.jobs.get(job.id)?.record ?? job, tasks: this.sm.tasksOfJob(job.id) };
  }

  place(taskId: string, node: LiveNode): AttemptRecord {
    return this.sm.placeTask(taskId, node, anExplanation(node.record.name));
  }

  /** The task's current attempt as the hot state holds it now (never a stale copy). */
  current(taskId: string): AttemptRecord {
    const task = this.hot.tasks.get(taskId);
    const attempt = task?.currentAttemptId ? this.hot.attempts.get(task.currentAttemptId) : undefined;
    if (!attempt) throw new Error(`test: task ${taskId} has no current attempt`);
    return attempt;
  }

  start(taskId: string): void {
    this.sm.markStarted(this.current(taskId), this.clock.now());
  }

  finish(taskId: string, outcome: AttemptResult['outcome'], patch: Partial<AttemptResult> = {}): void {
    const attempt = this.current(taskId);
    this.sm.finishAttempt(attempt, resultFor(attempt, outcome, this.clock.now(), patch));
  }

  /** Place, start and finish in one go. */
  run(taskId: string, node: LiveNode, outcome: AttemptResult['outcome'], patch: Partial<AttemptResult> = {}): void {
    this.place(taskId, node);
    this.start(taskId);
    this.finish(taskId, outcome, patch);
  }

  async events(jobId?: string): Promise<EventRecord[]> {
    await this.sm.committed();
    return [...(await this.store.listEvents({ afterSeq: 0, limit: 10_000, ...(jobId ? { jobId } : {}) }))];
  }

  async types(jobId: string): Promise<EventType[]> {
    return (await this.events(jobId)).map((e) => e.type);
  }

  async storedCounts(jobId: string): Promise<TaskCounts | undefined> {
    await this.sm.committed();
    return (await this.store.countTasksByState([jobId])).get(jobId);
  }

  async storedJob(id: string): Promise<JobRecord | undefined> {
    await this.sm.committed();
    return this.store.getJob(id);
  }

  async storedTask(id: string): Promise<TaskRecord | undefined> {
    await this.sm.committed();
    return this.store.getTask(id);
  }

  async storedAttempts(taskId: string): Promise<readonly AttemptRecord[]> {
    await this.sm.committed();
    return this.store.listAttempts(taskId);
  }

  async close(): Promise<void> {
    await this.sm.committed();
    await this.store.close();
  }
}

function resultFor(attempt: AttemptRecord, outcome: AttemptResult['outcome'], now: number, patch: Partial<AttemptResult> = {}): AttemptResult {
  return {
    attemptId: attempt.id, epoch: attempt.epoch, outcome,
    exitCode: outcome === 'succeeded' ? 0 : outcome === 'failed' ? 3 : null,
    reason: outcome === 'succeeded' ? null : outcome === 'failed' ? 'exit code 3' : 'agent shutting down',
    startedAt: attempt.startedAt ?? now, finishedAt: now, ...patch,
  };
}

function counts(patch: Partial<TaskCounts>): TaskCounts {
  return { pending: 0, assigned: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, ...patch };
}

describe('StateMachine', () => {
  let h: Harness;
  let node: LiveNode;

  beforeEach(async () => {
    h = await Harness.open();
    node = h.node('n1');
  });

  afterEach(async () => {
    await h.close();
    expect(h.fatal).toEqual([]);
  });

  describe('job lifecycle', () => {
    it('runs a one-task job to success and records every step', async () => {
      const { job, tasks } = h.submit({ resources: { cpu: '500m', memory: '1Gi' } });
      const taskId = tasks[0]!.id;
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ pending: 1 }));
      expect([...h.hot.pending]).toEqual([taskId]);

      h.clock.advance(10);
      const attempt = h.place(taskId, node);
      expect(attempt).toMatchObject({ id: `${taskId}.1`, epoch: 1, node: 'n1', state: 'assigned', createdAt: START + 10 });
      expect(h.hot.tasks.get(taskId)).toMatchObject({ state: 'assigned', epoch: 1, attempts: 1, node: 'n1', currentAttemptId: attempt.id });
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ assigned: 1 }));
      expect(h.hot.pending.size).toBe(0);

      h.clock.advance(10);
      h.start(taskId);
      expect(h.hot.jobs.get(job.id)?.record).toMatchObject({ state: 'running', startedAt: START + 20 });
      expect(h.hot.tasks.get(taskId)).toMatchObject({ state: 'running', startedAt: START + 20 });
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ running: 1 }));

      h.clock.advance(10);
      h.finish(taskId, 'succeeded');
      // Finished records leave the hot state.
      expect(h.hot.jobs.has(job.id)).toBe(false);
      expect(h.hot.tasks.has(taskId)).toBe(false);
      expect(h.hot.attempts.has(attempt.id)).toBe(false);

      await h.sm.committed();
      expect(await h.storedJob(job.id)).toMatchObject({ state: 'succeeded', startedAt: START + 20, finishedAt: START + 30, reason: null });
      expect(await h.storedTask(taskId)).toMatchObject({ state: 'succeeded', exitCode: 0, reason: null, finishedAt: START + 30, attempts: 1, failures: 0 });
      expect(await h.storedAttempts(taskId)).toEqual([
        { ...attempt, state: 'succeeded', exitCode: 0, reason: null, startedAt: START + 20, finishedAt: START + 30 },
      ]);
      expect(await h.storedCounts(job.id)).toEqual(counts({ succeeded: 1 }));

      const events = await h.events(job.id);
      expect(events.map((e) => e.type)).toEqual([
        'job.submitted', 'stage.started', 'task.placed', 'job.started', 'attempt.started', 'attempt.finished', 'stage.finished', 'job.finished',
      ]);
      expect(events.find((e) => e.type === 'job.finished')?.data).toEqual({ state: 'succeeded', reason: null, counts: counts({ succeeded: 1 }) });
      expect(events.find((e) => e.type === 'task.placed')).toMatchObject({ taskId, attemptId: attempt.id, node: 'n1', data: { epoch: 1, score: 42 } });
      expect(events.find((e) => e.type === 'attempt.finished')?.data).toEqual({ outcome: 'succeeded', exitCode: 0, reason: null, epoch: 1 });
    });

    it('gives events strictly increasing seqs with no gaps', async () => {
      const { tasks } = h.submit({ tasks: 3 });
      for (const task of tasks) h.run(task.id, node, 'succeeded');
      const events = await h.events();
      expect(events.length).toBeGreaterThan(10);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(h.hot.lastEventSeq).toBe(events.length);
    });

    it('keeps counts in memory and in the store in step while tasks finish', async () => {
      const { job, tasks } = h.submit({ tasks: 4 });
      const [t0, t1, t2, t3] = tasks.map((t) => t.id) as [string, string, string, string];
      h.run(t0, node, 'succeeded');
      h.place(t1, node);
      h.start(t1);
      h.place(t2, node);
      const expected = counts({ succeeded: 1, running: 1, assigned: 1, pending: 1 });
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(expected);
      expect(await h.storedCounts(job.id)).toEqual(expected);
      expect((await h.storedJob(job.id))?.state).toBe('running');

      h.finish(t1, 'succeeded');
      h.finish(t2, 'succeeded');
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ succeeded: 3, pending: 1 }));
      h.run(t3, node, 'succeeded');
      expect(await h.storedCounts(job.id)).toEqual(counts({ succeeded: 4 }));
      expect((await h.storedJob(job.id))?.state).toBe('succeeded');
      expect((await h.types(job.id)).filter((t) => t === 'job.finished')).toHaveLength(1);
    });

    it('starts the attempt when a result arrives before the started message', async () => {
      const { job, tasks } = h.submit();
      const taskId = tasks[0]!.id;
      const attempt = h.place(taskId, node);
      h.sm.finishAttempt(attempt, resultFor(attempt, 'succeeded', START + 50, { startedAt: START + 5 }));
      expect(await h.types(job.id)).toEqual(['job.submitted', 'stage.started', 'task.placed', 'job.started', 'attempt.started', 'attempt.finished', 'stage.finished', 'job.finished']);
      expect(await h.storedJob(job.id)).toMatchObject({ state: 'succeeded', startedAt: START + 5 });
      expect((await h.storedAttempts(taskId))[0]).toMatchObject({ state: 'succeeded', startedAt: START + 5, finishedAt: START + 50 });
    });

    it('fails a job whose only task never started, without a job.started event', async () => {
      const { job, tasks } = h.submit();
      const attempt = h.place(tasks[0]!.id, node);
      h.sm.finishAttempt(attempt, resultFor(attempt, 'failed', START, { startedAt: null, exitCode: null, reason: 'executable not found: nope' }));
      expect(await h.types(job.id)).toEqual(['job.submitted', 'stage.started', 'task.placed', 'attempt.finished', 'stage.finished', 'job.finished']);
      expect(await h.storedJob(job.id)).toMatchObject({
        state: 'failed', startedAt: null, reason: '1 of 1 tasks did not succeed (first: task 0: executable not found: nope)',
      });
    });

    it('ignores a second started message for the same attempt', async () => {
      const { job, tasks } = h.submit();
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      h.start(taskId);
      h.clock.advance(100);
      h.start(taskId);
      expect((await h.types(job.id)).filter((t) => t === 'attempt.started')).toHaveLength(1);
      expect(h.hot.tasks.get(taskId)?.startedAt).toBe(START);
    });
  });

  describe('stages', () => {
    const diamond = {
      stages: [
        { name: 'fetch', command: ['true'], tasks: 2 },
        { name: 'left', command: ['true'], dependsOn: ['fetch'], resources: { cpu: '2' } },
        { name: 'right', command: ['true'], dependsOn: ['fetch'] },
        { name: 'join', command: ['true'], dependsOn: ['left', 'right'] },
      ],
    };
    const states = (jobId: string) => h.hot.jobs.get(jobId)?.record.stages.map((s) => `${s.name}:${s.state}`);

    it('starts a stage when every stage it depends on has succeeded, numbering tasks on', async () => {
      const { job, tasks } = h.submit(diamond);
      expect(tasks.map((t) => [t.index, t.stage])).toEqual([[0, 0], [1, 0]]);
      expect(states(job.id)).toEqual(['fetch:running', 'left:waiting', 'right:waiting', 'join:waiting']);
      h.run(tasks[0]!.id, node, 'succeeded');
      expect(states(job.id)).toEqual(['fetch:running', 'left:waiting', 'right:waiting', 'join:waiting']);
      h.run(tasks[1]!.id, node, 'succeeded');
      expect(states(job.id)).toEqual(['fetch:succeeded', 'left:running', 'right:running', 'join:waiting']);
      const next = h.sm.tasksOfJob(job.id);
      expect(next.map((t) => [t.id, t.stage])).toEqual([[`${job.id}.2`, 1], [`${job.id}.3`, 2]]);
      // Each stage's own resources are reserved for its tasks.
      const left = h.place(`${job.id}.2`, node);
      expect(node.allocatedCpuMillis).toBe(2000);
      h.start(left.taskId);
      h.finish(left.taskId, 'succeeded');
      expect(node.allocatedCpuMillis).toBe(0);
      expect(states(job.id)).toEqual(['fetch:succeeded', 'left:succeeded', 'right:running', 'join:waiting']);
      h.run(`${job.id}.3`, node, 'succeeded');
      expect(states(job.id)).toEqual(['fetch:succeeded', 'left:succeeded', 'right:succeeded', 'join:running']);
      h.run(`${job.id}.4`, node, 'succeeded');
      const stored = await h.storedJob(job.id);
      expect(stored).toMatchObject({ state: 'succeeded', taskCount: 5 });
      expect(stored!.stages.map((s) => [s.name, s.state, s.firstTask, s.tasks])).toEqual([['fetch', 'succeeded', 0, 2], ['left', 'succeeded', 2, 1], ['right', 'succeeded', 3, 1], ['join', 'succeeded', 4, 1]]);
      const types = await h.types(job.id);
      expect(types.filter((t) => t === 'stage.started')).toHaveLength(4);
      expect(types.filter((t) => t === 'stage.finished')).toHaveLength(4);
      expect(types.at(-1)).toBe('job.finished');
    });

    it('fails the job when a stage fails, lets running siblings finish, and skips what never started', async () => {
      const { job, tasks } = h.submit(diamond);
      for (const task of tasks) h.run(task.id, node, 'succeeded');
      h.run(`${job.id}.2`, node, 'failed', { reason: 'exit code 3' });
      // "right" is still running: the job waits for it.
      expect(states(job.id)).toEqual(['fetch:succeeded', 'left:failed', 'right:running', 'join:waiting']);
      h.run(`${job.id}.3`, node, 'succeeded');
      const stored = await h.storedJob(job.id);
      expect(stored?.state).toBe('failed');
      expect(stored?.reason).toBe('1 of 4 tasks did not succeed (first: task 2: exit code 3)');
      expect(stored?.stages.map((s) => `${s.name}:${s.state}`)).toEqual(['fetch:succeeded', 'left:failed', 'right:succeeded', 'join:skipped']);
      expect(stored?.stages[3]?.reason).toBe('not started: stage left failed');
    });

    it('fails a stage that cannot start, with the reason its resolver gave', async () => {
      h.sm.resolveStage = (job, index) => {
        if (index === 1) throw new AtollError('invalid_spec', 'stage second cannot start: forEach: nothing to run');
        return stageOf(job.spec, index);
      };
      const { job, tasks } = h.submit({ stages: [{ name: 'first', command: ['true'] }, { name: 'second', command: ['true'], dependsOn: ['first'] }] });
      h.run(tasks[0]!.id, node, 'succeeded');
      const stored = await h.storedJob(job.id);
      expect(stored).toMatchObject({ state: 'failed', reason: 'stage second failed (first: stage second cannot start: forEach: nothing to run)', taskCount: 1 });
      expect(stored?.stages.map((s) => `${s.name}:${s.state}`)).toEqual(['first:succeeded', 'second:failed']);
    });

    it('cancels running stages and skips waiting ones', async () => {
      const { job } = h.submit(diamond);
      h.sm.cancelJob(job.id, 'stop');
      const stored = await h.storedJob(job.id);
      expect(stored?.stages.map((s) => `${s.name}:${s.state}`)).toEqual(['fetch:cancelled', 'left:skipped', 'right:skipped', 'join:skipped']);
    });
  });

  describe('retries', () => {
    const backoff = 1000;

    it.each([0, 0.25, 0.5, 0.9, 0.998])('waits in [backoff/2, backoff) after the first failure (random %f)', async (r) => {
      const { job, tasks } = h.submit({ retry: { attempts: 2, backoff: '1s' }, resources: { cpu: 1, memory: '1Gi' } });
      const taskId = tasks[0]!.id;
      h.random.value = r;
      h.clock.advance(5000);
      const now = h.clock.now();
      h.run(taskId, node, 'failed');

      const task = h.hot.tasks.get(taskId);
      expect(task).toMatchObject({ state: 'pending', failures: 1, attempts: 1, node: null, currentAttemptId: null, reason: 'exit code 3' });
      expect(task?.notBefore).toBe(now + Math.round(backoff * (0.5 + r / 2)));
      expect(task?.notBefore).toBeGreaterThanOrEqual(now + backoff * 0.5);
      expect(task?.notBefore).toBeLessThan(now + backoff);
      expect(h.hot.pending.has(taskId)).toBe(true);
      expect(h.hot.waitingReasons.get(taskId)).toBe('exit code 3');
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ pending: 1 }));
      expect(node.allocatedCpuMillis).toBe(0);

      const retry = (await h.events(job.id)).find((e) => e.type === 'task.retry_scheduled');
      expect(retry?.data).toEqual({ failures: 1, delayMs: (task?.notBefore ?? 0) - now, reason: 'exit code 3' });
      expect(await h.storedTask(taskId)).toMatchObject({ state: 'pending', failures: 1, notBefore: task?.notBefore });
    });

    it('doubles the wait for each further failure, then fails the task and the job', async () => {
      const { job, tasks } = h.submit({ retry: { attempts: 2, backoff: '1s' } });
      const taskId = tasks[0]!.id;
      h.random.value = 0.5;

      h.run(taskId, node, 'failed');
      expect(h.hot.tasks.get(taskId)?.notBefore).toBe(START + 750);

      h.clock.advance(1000);
      h.run(taskId, node, 'failed');
      const second = h.hot.tasks.get(taskId);
      expect(second).toMatchObject({ state: 'pending', failures: 2, attempts: 2, epoch: 2 });
      expect(second?.notBefore).toBe(START + 1000 + 1500);

      h.clock.advance(3000);
      h.run(taskId, node, 'failed', { reason: 'exit code 9', exitCode: 9 });
      expect(h.hot.tasks.has(taskId)).toBe(false);
      expect(h.hot.jobs.has(job.id)).toBe(false);

      expect(await h.storedTask(taskId)).toMatchObject({
        state: 'failed', failures: 3, attempts: 3, epoch: 3, exitCode: 9, reason: 'exit code 9 (after 3 attempts)', finishedAt: START + 4000,
      });
      expect(await h.storedJob(job.id)).toMatchObject({
        state: 'failed', reason: '1 of 1 tasks did not succeed (first: task 0: exit code 9 (after 3 attempts))',
      });
      expect((await h.storedAttempts(taskId)).map((a) => [a.epoch, a.state])).toEqual([[1, 'failed'], [2, 'failed'], [3, 'failed']]);
      const types = await h.types(job.id);
      expect(types.filter((t) => t === 'task.retry_scheduled')).toHaveLength(2);
      expect(types.filter((t) => t === 'attempt.finished')).toHaveLength(3);
      expect(types.at(-1)).toBe('job.finished');
    });

    it('succeeds after a retry and counts the failure', async () => {
      const { job, tasks } = h.submit({ retry: { attempts: 1 } });
      const taskId = tasks[0]!.id;
      h.run(taskId, node, 'failed');
      h.clock.advance(2000);
      h.run(taskId, node, 'succeeded');
      expect(await h.storedTask(taskId)).toMatchObject({ state: 'succeeded', failures: 1, attempts: 2, reason: null });
      expect((await h.storedJob(job.id))?.state).toBe('succeeded');
    });

    it.each<{ name: string; retry: { attempts: number; backoff?: number }; result: Partial<AttemptResult>; reason: string }>([
      { name: 'no retries: the reason as given', retry: { attempts: 0 }, result: { reason: 'exit code 1' }, reason: 'exit code 1' },
      { name: 'no reason from the agent', retry: { attempts: 0 }, result: { reason: null }, reason: 'failed' },
      { name: 'after retries: the attempt count', retry: { attempts: 1, backoff: 0 }, result: { reason: 'oom' }, reason: 'oom (after 2 attempts)' },
    ])('final task reason: $name', async ({ retry, result, reason }) => {
      const { job, tasks } = h.submit({ retry });
      const taskId = tasks[0]!.id;
      for (let i = 0; i <= (retry?.attempts ?? 0); i += 1) h.run(taskId, node, 'failed', result);
      expect((await h.storedTask(taskId))?.reason).toBe(reason);
      expect((await h.storedJob(job.id))?.reason).toBe(`1 of 1 tasks did not succeed (first: task 0: ${reason})`);
    });

    it('names the first task that finally failed in the job reason', async () => {
      const { job, tasks } = h.submit({ tasks: 3 });
      const [t0, t1, t2] = tasks.map((t) => t.id) as [string, string, string];
      h.run(t2, node, 'failed', { reason: 'exit code 2' });
      h.run(t0, node, 'succeeded');
      h.run(t1, node, 'failed', { reason: 'exit code 1' });
      expect(await h.storedJob(job.id)).toMatchObject({
        state: 'failed', reason: '2 of 3 tasks did not succeed (first: task 2: exit code 2)',
      });
      expect(await h.storedCounts(job.id)).toEqual(counts({ succeeded: 1, failed: 2 }));
      const finished = (await h.events(job.id)).find((e) => e.type === 'job.finished');
      expect(finished?.data).toMatchObject({ state: 'failed', counts: counts({ succeeded: 1, failed: 2 }) });
    });

    it('keeps the job running while other tasks still run after a final failure', async () => {
      const { job, tasks } = h.submit({ tasks: 2 });
      h.place(tasks[1]!.id, node);
      h.start(tasks[1]!.id);
      h.run(tasks[0]!.id, node, 'failed');
      expect(h.hot.jobs.get(job.id)?.record.state).toBe('running');
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ failed: 1, running: 1 }));
    });

    it('runs a task the agent stopped on its own again, without charging a failure', async () => {
      const { job, tasks } = h.submit();
      const taskId = tasks[0]!.id;
      h.run(taskId, node, 'cancelled', { reason: 'agent shutting down' });
      expect(h.hot.tasks.get(taskId)).toMatchObject({ state: 'pending', failures: 0, attempts: 1, notBefore: START });
      expect(h.hot.tasks.get(taskId)?.reason).toBe(`attempt ${taskId}.1 was stopped on n1: agent shutting down`);
      expect(h.hot.jobs.get(job.id)?.record.state).toBe('running');
      expect((await h.storedAttempts(taskId))[0]?.state).toBe('cancelled');
    });
  });

  describe('lost attempts', () => {
    it.each<{ name: string; started: boolean }>([
      { name: 'running', started: true },
      { name: 'assigned', started: false },
    ])('requeues the task of a $name attempt without counting a failure', async ({ started }) => {
      const { job, tasks } = h.submit({ retry: { attempts: 0 }, resources: { cpu: 2, memory: '2Gi' } });
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      if (started) h.start(taskId);
      const attempt = h.current(taskId);
      h.clock.advance(100);
      h.sm.loseAttempt(attempt, 'node n1 is down');

      expect(h.hot.tasks.get(taskId)).toMatchObject({
        state: 'pending', failures: 0, attempts: 1, currentAttemptId: null, node: null, reason: 'node n1 is down', notBefore: START + 100,
      });
      expect(h.hot.pending.has(taskId)).toBe(true);
      expect(h.hot.attempts.size).toBe(0);
      expect(node.allocatedCpuMillis).toBe(0);
      expect(node.allocatedMemoryBytes).toBe(0);
      expect(node.attemptIds.size).toBe(0);
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ pending: 1 }));

      // Even with no retries left, the replacement runs and can succeed.
      const next = h.place(taskId, node);
      expect(next).toMatchObject({ id: `${taskId}.2`, epoch: 2 });
      h.start(taskId);
      h.finish(taskId, 'succeeded');
      expect(await h.storedTask(taskId)).toMatchObject({ state: 'succeeded', failures: 0, attempts: 2, epoch: 2 });
      expect((await h.storedAttempts(taskId)).map((a) => a.state)).toEqual(['lost', 'succeeded']);
      const lost = (await h.events(job.id)).find((e) => e.type === 'attempt.lost');
      expect(lost).toMatchObject({ attemptId: attempt.id, node: 'n1', data: { reason: 'node n1 is down', cause: 'node_lost' } });
    });

    it('fails a task that lost its node more often than retry.nodeLosses allows, and its job with it', async () => {
      const { job, tasks } = h.submit({ retry: { attempts: 3, nodeLosses: 2 } });
      const taskId = tasks[0]!.id;
      for (let loss = 1; loss <= 2; loss++) {
        h.place(taskId, node);
        h.sm.loseAttempt(h.current(taskId), `node n1 is down (${loss})`);
        expect(h.hot.tasks.get(taskId)).toMatchObject({ state: 'pending', losses: loss, failures: 0 });
      }
      h.place(taskId, node);
      h.sm.loseAttempt(h.current(taskId), 'node n1 is down (3)');
      const task = await h.storedTask(taskId);
      expect(task).toMatchObject({ state: 'failed', losses: 3, failures: 0 });
      expect(task!.reason).toBe('lost its node 3 times (last: node n1 is down (3)); retry.nodeLosses allows 2, and a task that keeps losing its node may be what brings nodes down');
      expect(await h.storedJob(job.id)).toMatchObject({ state: 'failed', reason: `1 of 1 tasks did not succeed (first: task 0: ${task!.reason})` });
    });

    it('does not count work an operator moved against the node-loss budget', async () => {
      const { tasks } = h.submit({ retry: { nodeLosses: 0 } });
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      h.sm.loseAttempt(h.current(taskId), 'moved off n1: its drain deadline passed', 'moved');
      expect(h.hot.tasks.get(taskId)).toMatchObject({ state: 'pending', losses: 0, failures: 0 });
      h.place(taskId, node);
      h.sm.loseAttempt(h.current(taskId), 'node n1 is down');
      expect(await h.storedTask(taskId)).toMatchObject({ state: 'failed', losses: 1 });
    });
  });

  describe('node holds', () => {
    it('shows a cordon and a drain in the state of a connected node, and records each step', async () => {
      h.sm.setNodeHold(node, { cordoned: true, drainDeadline: null }, 'cordoned by an operator');
      expect(node.record).toMatchObject({ state: 'cordoned', cordoned: true, drainDeadline: null });
      h.sm.setNodeHold(node, { cordoned: true, drainDeadline: START + 5000 }, 'drain requested');
      expect(node.record.state).toBe('draining');
      h.sm.setNodeHold(node, { cordoned: true, drainDeadline: null }, 'drain complete');
      expect(node.record.state).toBe('cordoned');
      h.sm.setNodeHold(node, { cordoned: false, drainDeadline: null }, 'uncordoned by an operator');
      expect(node.record.state).toBe('ready');
      await h.sm.committed();
      expect(await h.store.getNode('n1')).toMatchObject({ state: 'ready', cordoned: false, drainDeadline: null });
      const events = (await h.events()).filter((e) => e.node === 'n1' && e.type !== 'node.joined').map((e) => `${e.type}${e.type === 'node.state_changed' ? ` ${String(e.data.to)}` : ''}`);
      expect(events).toEqual([
        'node.cordoned', 'node.state_changed cordoned',
        'node.drain_started', 'node.state_changed draining',
        'node.drained', 'node.state_changed cordoned',
        'node.uncordoned', 'node.state_changed ready',
      ]);
    });

    it('keeps an unreachable node unreachable when it is cordoned, and stores the cordon', async () => {
      h.sm.setNodeState(node, 'unreachable', 'agent connection closed');
      h.sm.setNodeHold(node, { cordoned: true, drainDeadline: null }, 'cordoned by an operator');
      expect(node.record).toMatchObject({ state: 'unreachable', cordoned: true });
      await h.sm.committed();
      expect(await h.store.getNode('n1')).toMatchObject({ state: 'unreachable', cordoned: true });
    });
  });

  describe('cancelJob', () => {
    it('cancels pending, assigned and running tasks and stops their attempts', async () => {
      const { job, tasks } = h.submit({ tasks: 4, resources: { cpu: 1, memory: '1Gi' } });
      const [t0, t1, t2, t3] = tasks.map((t) => t.id) as [string, string, string, string];
      h.run(t0, node, 'succeeded');
      h.place(t1, node);
      h.place(t2, node);
      h.start(t2);
      expect(node.allocatedCpuMillis).toBe(2000);

      h.clock.advance(500);
      const stopped = h.sm.cancelJob(job.id, 'cancelled by user');
      expect(stopped.map((a) => a.id).sort()).toEqual([`${t1}.1`, `${t2}.1`]);
      expect(node.allocatedCpuMillis).toBe(0);
      expect(node.allocatedMemoryBytes).toBe(0);
      expect(node.attemptIds.size).toBe(0);
      expect(h.hot.jobs.has(job.id)).toBe(false);
      expect(h.hot.tasks.size).toBe(0);
      expect(h.hot.attempts.size).toBe(0);
      expect(h.hot.pending.size).toBe(0);

      expect(await h.storedJob(job.id)).toMatchObject({ state: 'cancelled', reason: 'cancelled by user', finishedAt: START + 500 });
      expect(await h.storedCounts(job.id)).toEqual(counts({ succeeded: 1, cancelled: 3 }));
      for (const id of [t1, t2, t3]) expect(await h.storedTask(id)).toMatchObject({ state: 'cancelled', reason: 'cancelled by user', finishedAt: START + 500 });
      expect((await h.storedAttempts(t2))[0]).toMatchObject({ state: 'cancelled', reason: 'cancelled by user' });
      // Every stopped attempt and cancelled task has its own event, so the log alone replays the cancel.
      const events = await h.events(job.id);
      const afterRequest = events.slice(events.findIndex((e) => e.type === 'job.cancel_requested'));
      expect(afterRequest.filter((e) => e.type === 'attempt.finished').map((e) => [e.attemptId, e.data.outcome]).sort()).toEqual([
        [`${t1}.1`, 'cancelled'],
        [`${t2}.1`, 'cancelled'],
      ]);
      expect(afterRequest.filter((e) => e.type === 'task.cancelled').map((e) => [e.taskId, e.data.from]).sort()).toEqual([
        [t1, 'assigned'],
        [t2, 'running'],
        [t3, 'pending'],
      ]);
      expect(afterRequest.at(-1)?.type).toBe('job.finished');
      const finished = (await h.events(job.id)).at(-1);
      expect(finished?.data).toEqual({ state: 'cancelled', reason: 'cancelled by user', counts: counts({ succeeded: 1, cancelled: 3 }) });
    });

    it('cancels a job that never started', async () => {
      const { job } = h.submit({ tasks: 2 });
      expect(h.sm.cancelJob(job.id, 'no longer needed')).toEqual([]);
      expect(await h.storedJob(job.id)).toMatchObject({ state: 'cancelled', startedAt: null });
      expect(await h.types(job.id)).toEqual(['job.submitted', 'stage.started', 'job.cancel_requested', 'task.cancelled', 'task.cancelled', 'stage.finished', 'job.finished']);
    });

    it('refuses to cancel a finished or unknown job with a conflict', async () => {
      const { job, tasks } = h.submit();
      h.run(tasks[0]!.id, node, 'succeeded');
      const seqBefore = h.hot.lastEventSeq;
      for (const id of [job.id, 'nope-1']) {
        expect(() => h.sm.cancelJob(id, 'x')).toThrow(AtollError);
        try {
          h.sm.cancelJob(id, 'x');
        } catch (error) {
          expect((error as AtollError).code).toBe('conflict');
        }
      }
      expect(h.hot.lastEventSeq).toBe(seqBefore);
    });
  });

  describe('node allocation', () => {
    it('reserves each job\'s resources on placement and releases them when the attempt ends', () => {
      const other = h.node('n2');
      const small = h.submit({ name: 'small', tasks: 2, resources: { cpu: '250m', memory: '256Mi' } });
      const big = h.submit({ name: 'big', resources: { cpu: 2, memory: '4Gi' } });
      const [s0, s1] = small.tasks.map((t) => t.id) as [string, string];
      const b0 = big.tasks[0]!.id;

      h.place(s0, node);
      h.place(b0, node);
      h.place(s1, other);
      expect([node.allocatedCpuMillis, node.allocatedMemoryBytes]).toEqual([2250, 256 * 2 ** 20 + 4 * 2 ** 30]);
      expect([other.allocatedCpuMillis, other.allocatedMemoryBytes]).toEqual([250, 256 * 2 ** 20]);
      expect([...node.attemptIds].sort()).toEqual([`${b0}.1`, `${s0}.1`]);

      h.start(b0);
      h.finish(b0, 'succeeded');
      expect([node.allocatedCpuMillis, node.allocatedMemoryBytes]).toEqual([250, 256 * 2 ** 20]);

      h.finish(s0, 'failed');
      expect([node.allocatedCpuMillis, node.allocatedMemoryBytes]).toEqual([0, 0]);

      h.sm.loseAttempt(h.current(s1), 'gone');
      expect([other.allocatedCpuMillis, other.allocatedMemoryBytes]).toEqual([0, 0]);
      expect(other.attemptIds.size).toBe(0);
    });
  });

  describe('refusals and fencing', () => {
    it('throws on an illegal transition', () => {
      const { tasks } = h.submit();
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      let thrown: unknown;
      try {
        h.place(taskId, node);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(AtollError);
      expect((thrown as AtollError).code).toBe('internal');
      expect((thrown as AtollError).message).toBe('illegal task transition for demo-1.0: assigned -> assigned');
      expect(h.hot.tasks.get(taskId)).toMatchObject({ state: 'assigned', epoch: 1, currentAttemptId: `${taskId}.1` });
    });

    it('leaves hot state untouched when placeTask is refused', async () => {
      const { tasks } = h.submit();
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      const cpu = node.allocatedCpuMillis;
      const attempts = [...node.attemptIds];
      expect(() => h.place(taskId, node)).toThrow('assigned -> assigned');
      expect(() => h.place(taskId, node)).toThrow('assigned -> assigned');
      expect(node.allocatedCpuMillis).toBe(cpu);
      expect([...node.attemptIds]).toEqual(attempts);
      expect(h.hot.attempts.has(`${taskId}.2`)).toBe(false);
      await h.sm.committed();
      expect(h.fatal).toEqual([]);
    });

    it('refuses to place a task that is not active', () => {
      const { tasks } = h.submit();
      const taskId = tasks[0]!.id;
      h.run(taskId, node, 'succeeded');
      expect(() => h.place(taskId, node)).toThrow(`task ${taskId} is not active`);
      expect(() => h.place('nope.0', node)).toThrow('task nope.0 is not active');
    });

    it('refuses a result for an attempt that already finished', () => {
      const { tasks } = h.submit({ tasks: 2 });
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      h.start(taskId);
      const attempt = h.current(taskId);
      h.finish(taskId, 'succeeded');
      expect(() => h.sm.finishAttempt(attempt, resultFor(attempt, 'succeeded', START))).toThrow(AtollError);
      expect(h.hot.jobs.get(tasks[0]!.jobId)?.counts).toEqual(counts({ succeeded: 1, pending: 1 }));
    });

    it('records an ignored result as an event without touching the task', async () => {
      const { job, tasks } = h.submit({ retry: { attempts: 1, backoff: 0 } });
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      const stale = h.current(taskId);
      h.sm.loseAttempt(stale, 'gone');
      h.place(taskId, node);
      const before = h.hot.tasks.get(taskId);
      h.sm.recordIgnoredResult('n1', resultFor(stale, 'succeeded', START), 'attempt is not current');
      expect(h.hot.tasks.get(taskId)).toBe(before);
      expect(h.hot.jobs.get(job.id)?.counts).toEqual(counts({ assigned: 1 }));
      const ignored = (await h.events(job.id)).find((e) => e.type === 'attempt.result_ignored');
      expect(ignored).toMatchObject({ jobId: job.id, attemptId: stale.id, node: 'n1', data: { epoch: 1, outcome: 'succeeded', reason: 'attempt is not current' } });
    });

    it('refuses loseAttempt and ignores markStarted for a stale copy of a finished attempt', async () => {
      const { job, tasks } = h.submit();
      const taskId = tasks[0]!.id;
      h.place(taskId, node);
      h.start(taskId);
      const staleCopy = h.current(taskId);
      h.finish(taskId, 'succeeded');
      expect(() => h.sm.loseAttempt(staleCopy, 'late')).toThrow(`attempt ${staleCopy.id} is not active`);
      h.sm.markStarted({ ...staleCopy, state: 'assigned' }, START);
      await h.sm.committed();
      const events = await h.events(job.id);
      expect(events.filter((e) => e.type === 'attempt.lost')).toEqual([]);
      expect(events.filter((e) => e.type === 'attempt.started')).toHaveLength(1);
      expect((await h.store.listAttempts(taskId)).map((a) => a.state)).toEqual(['succeeded']);
    });
  });

  describe('waiting reasons', () => {
    it('records why tasks wait and forgets it once a task is placed', async () => {
      const { job, tasks } = h.submit({ tasks: 2 });
      const ids = tasks.map((t) => t.id);
      h.sm.noteUnplaceable(job.id, ids, 'no node fits: 2 insufficient_cpu', { insufficient_cpu: 2 });
      expect(h.hot.waitingReasons.get(ids[0]!)).toBe('no node fits: 2 insufficient_cpu');
      h.place(ids[0]!, node);
      expect(h.hot.waitingReasons.has(ids[0]!)).toBe(false);
      expect(h.hot.waitingReasons.get(ids[1]!)).toBe('no node fits: 2 insufficient_cpu');
      const event = (await h.events(job.id)).find((e) => e.type === 'task.unplaceable');
      expect(event?.data).toEqual({ tasks: 2, message: 'no node fits: 2 insufficient_cpu', reasons: { insufficient_cpu: 2 } });
    });
  });

  describe('cluster policies', () => {
    const policy = (spec: Record<string, unknown>, at: number, createdAt = at): PolicyRecord => {
      const parsed = parsePolicySpec(spec);
      return { name: parsed.name, spec: parsed, createdAt, updatedAt: at };
    };

    it('applies, replaces and deletes a policy, in memory and in the store, each with its event', async () => {
      const first = policy({ name: 'finance', namespaces: ['finance'], denyJurisdictions: ['US'] }, START);
      h.sm.applyPolicy(first);
      expect(h.hot.policies.get('finance')).toBe(first);
      expect(h.hot.policiesVersion).toBe(1);
      await h.sm.committed();
      expect(await h.store.listPolicies()).toEqual([first]);

      const second = policy({ name: 'finance', namespaces: ['finance'], allowProviders: ['aws'] }, START + 5, START);
      h.sm.applyPolicy(second);
      await h.sm.committed();
      expect(await h.store.listPolicies()).toEqual([second]);

      expect(h.sm.deletePolicy('finance')).toBe(second);
      expect(h.hot.policies.size).toBe(0);
      expect(h.hot.policiesVersion).toBe(3);
      await h.sm.committed();
      expect(await h.store.listPolicies()).toEqual([]);

      const events = (await h.events()).filter((e) => e.type.startsWith('policy.'));
      expect(events.map((e) => [e.type, e.data.name, e.data.created])).toEqual([
        ['policy.applied', 'finance', true],
        ['policy.applied', 'finance', false],
        ['policy.deleted', 'finance', undefined],
      ]);
      expect(events[1]!.data.spec).toEqual(second.spec);
      expect(events.every((e) => e.jobId === null && e.taskId === null && e.node === null)).toBe(true);
    });

    it('keeps only the last word on a policy changed twice before one commit', async () => {
      h.sm.applyPolicy(policy({ name: 'temp', denyJurisdictions: ['RU'] }, START));
      h.sm.deletePolicy('temp');
      const kept = policy({ name: 'kept', denyJurisdictions: ['CN'] }, START);
      h.sm.applyPolicy(kept);
      await h.sm.committed();
      expect(await h.store.listPolicies()).toEqual([kept]);
      expect([...h.hot.policies.keys()]).toEqual(['kept']);
    });

    it('refuses to delete a policy it does not hold', () => {
      expect(() => h.sm.deletePolicy('nope')).toThrow('policy nope is not loaded');
    });
  });
});

// ---- property: any legal sequence of operations keeps the invariants ----

type Outcome = AttemptResult['outcome'];

type Op =
  | { readonly kind: 'place'; readonly task: number; readonly node: number }
  | { readonly kind: 'start'; readonly task: number }
  | { readonly kind: 'result'; readonly task: number; readonly outcome: Outcome; readonly reportStart: boolean }
  /** A late or duplicate result from one of the task's earlier attempts. */
  | { readonly kind: 'stale'; readonly task: number; readonly pick: number; readonly outcome: Outcome }
  | { readonly kind: 'lose'; readonly task: number }
  | { readonly kind: 'cancel'; readonly job: number }
  | { readonly kind: 'tick'; readonly ms: number }
  | { readonly kind: 'commit' };

const outcomeArb = fc.constantFrom<Outcome>('succeeded', 'failed', 'failed', 'cancelled');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 16, arbitrary: fc.record({ kind: fc.constant('place' as const), task: fc.nat(), node: fc.nat() }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('start' as const), task: fc.nat() }) },
  { weight: 14, arbitrary: fc.record({ kind: fc.constant('result' as const), task: fc.nat(), outcome: outcomeArb, reportStart: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('stale' as const), task: fc.nat(), pick: fc.nat(), outcome: outcomeArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('lose' as const), task: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), job: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'commit' as const }) },
);

const jobArb = fc.record({
  /** A chain of this many stages, each with `tasks` tasks. */
  stages: fc.integer({ min: 1, max: 3 }),
  tasks: fc.integer({ min: 1, max: 4 }),
  attempts: fc.integer({ min: 0, max: 2 }),
  cpu: fc.constantFrom('100m', '250m', '1'),
  memory: fc.constantFrom('64Mi', '1Gi'),
});

const scenarioArb = fc.record({
  jobs: fc.array(jobArb, { minLength: 1, maxLength: 3 }),
  nodes: fc.integer({ min: 1, max: 3 }),
  ops: fc.array(opArb, { maxLength: 150, size: 'max' }),
  seed: fc.nat(),
});

const ACTIVE: readonly TaskState[] = ['pending', 'assigned', 'running'];

/** What must hold in memory after every operation. */
function checkHotInvariants(h: Harness, jobIds: readonly string[]): void {
  for (const id of jobIds) {
    const live = h.hot.jobs.get(id);
    if (!live) continue;
    const c = live.counts;
    expect(c.pending + c.assigned + c.running + c.succeeded + c.failed + c.cancelled).toBe(live.record.taskCount);
    const active = [...h.hot.tasks.values()].filter((t) => t.jobId === id);
    for (const state of ACTIVE) expect(c[state], `${id} ${state}`).toBe(active.filter((t) => t.state === state).length);
    live.stageCounts.forEach((sc, i) => {
      for (const state of ACTIVE) expect(sc[state], `${id} stage ${i} ${state}`).toBe(active.filter((t) => t.stage === i && t.state === state).length);
    });
  }
  const pendingIds = [...h.hot.tasks.values()].filter((t) => t.state === 'pending').map((t) => t.id).sort();
  expect([...h.hot.pending].sort()).toEqual(pendingIds);

  // Every active attempt is its task's current attempt, in the matching state.
  for (const attempt of h.hot.attempts.values()) {
    const task = h.hot.tasks.get(attempt.taskId);
    expect(task?.currentAttemptId).toBe(attempt.id);
    expect(task?.state).toBe(attempt.state);
    expect(task?.epoch).toBe(attempt.epoch);
  }
  for (const task of h.hot.tasks.values()) {
    if (task.state === 'pending') expect(task.currentAttemptId).toBeNull();
    else expect(h.hot.attempts.has(task.currentAttemptId ?? '')).toBe(true);
  }

  // Node allocations equal the sum of their active attempts' resources.
  for (const live of h.hot.nodes.values()) {
    const mine = [...h.hot.attempts.values()].filter((a) => a.node === live.record.name);
    const spec = (a: AttemptRecord) => {
      const job = h.hot.jobs.get(a.jobId)?.record;
      const task = h.hot.tasks.get(a.taskId);
      return job && task ? stageOf(job.spec, task.stage).resources : { cpu: Number.NaN, memory: Number.NaN };
    };
    expect([...live.attemptIds].sort()).toEqual(mine.map((a) => a.id).sort());
    expect(live.allocatedCpuMillis).toBe(mine.reduce((sum, a) => sum + spec(a).cpu, 0));
    expect(live.allocatedMemoryBytes).toBe(mine.reduce((sum, a) => sum + spec(a).memory, 0));
  }
}

/** What must hold in the store once everything is committed. */
async function checkStoreInvariants(h: Harness, submitted: readonly Submitted[]): Promise<void> {
  await h.sm.committed();
  const events = await h.store.listEvents({ afterSeq: 0, limit: 10_000 });
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(h.hot.lastEventSeq).toBe(events.length);

  const stored = await h.store.countTasksByState(submitted.map((s) => s.job.id));
  for (const { job: submittedJob } of submitted) {
    const c = stored.get(submittedJob.id)!;
    const record = await h.store.getJob(submittedJob.id);
    const job = record!;
    const tasks = (await h.store.listTasks(job.id, { limit: 10_000 })).items;
    expect(c.pending + c.assigned + c.running + c.succeeded + c.failed + c.cancelled).toBe(job.taskCount);
    // Stages start in order and own consecutive task ranges; a stage ran only after its dependencies succeeded.
    const stageOfTask = tasks.map((t) => t.stage);
    expect([...stageOfTask].sort((a, b) => a - b)).toEqual(stageOfTask);
    job.stages.forEach((run, i) => {
      const mine = tasks.filter((t) => t.stage === i);
      expect(mine.length).toBe(run.tasks);
      if (run.firstTask !== null) expect(mine.map((t) => t.index)).toEqual(Array.from({ length: run.tasks }, (_, k) => run.firstTask! + k));
      if (run.state === 'succeeded') expect(mine.every((t) => t.state === 'succeeded')).toBe(true);
      if (run.state !== 'waiting' && run.state !== 'skipped') {
        for (const dep of job.spec.stages[i]!.dependsOn) expect(job.stages.find((d) => d.name === dep)?.state).toBe('succeeded');
      }
    });
    if (record?.state === 'succeeded') expect(job.stages.every((run) => run.state === 'succeeded')).toBe(true);
    const live = h.hot.jobs.get(job.id);
    const jobEvents = events.filter((e) => e.jobId === job.id);
    expect(jobEvents.filter((e) => e.type === 'job.submitted')).toHaveLength(1);
    const finished = jobEvents.filter((e) => e.type === 'job.finished');
    if (live) {
      expect(c).toEqual(live.counts);
      expect(record).toEqual(live.record);
      expect(finished).toHaveLength(0);
    } else {
      expect(c.pending + c.assigned + c.running).toBe(0);
      expect(finished).toHaveLength(1);
      expect(finished[0]?.data).toMatchObject({ state: record?.state, counts: c });
      if (record?.state === 'succeeded') expect(c.succeeded).toBe(job.taskCount);
      if (record?.state === 'failed') expect(record.reason).toMatch(new RegExp(`^${c.failed + c.cancelled} of ${job.taskCount} tasks did not succeed`));
      if (record?.state === 'cancelled') expect(jobEvents.some((e) => e.type === 'job.cancel_requested')).toBe(true);
    }

    for (const { id } of tasks) {
      const task = await h.store.getTask(id);
      const hotTask = h.hot.tasks.get(id);
      if (hotTask) expect(task).toEqual(hotTask);
      const attempts = await h.store.listAttempts(id);
      expect(attempts.map((a) => a.epoch)).toEqual(attempts.map((_, i) => i + 1));
      expect(task?.attempts).toBe(attempts.length);
      expect(task?.failures).toBe(attempts.filter((a) => a.state === 'failed').length);
      for (const attempt of attempts) {
        const hotAttempt = h.hot.attempts.get(attempt.id);
        if (hotAttempt) expect(attempt).toEqual(hotAttempt);
      }

      // A task completes at most once, and only through an accepted result.
      const succeededResults = events.filter((e) => e.type === 'attempt.finished' && e.taskId === id && e.data.outcome === 'succeeded');
      expect(succeededResults.length).toBeLessThanOrEqual(1);
      expect(attempts.filter((a) => a.state === 'succeeded').length).toBe(succeededResults.length);
      expect(task?.state === 'succeeded').toBe(succeededResults.length === 1);

      // Every attempt's life is in the event log.
      for (const attempt of attempts) {
        const mine = events.filter((e) => e.attemptId === attempt.id && e.type !== 'attempt.result_ignored');
        expect(mine.filter((e) => e.type === 'task.placed')).toHaveLength(1);
        expect(mine.filter((e) => e.type === 'attempt.started').length).toBe(attempt.startedAt === null ? 0 : 1);
        const ends = mine.filter((e) => e.type === 'attempt.finished' || e.type === 'attempt.lost');
        if (attempt.state === 'assigned' || attempt.state === 'running') expect(ends).toHaveLength(0);
        else if (attempt.state === 'lost') expect(ends.map((e) => e.type)).toEqual(['attempt.lost']);
        else if (ends.length === 1) expect(ends[0]?.data.outcome).toBe(attempt.state);
        else {
          // Stopped because its job was cancelled: the job's cancel event covers it.
          expect(attempt.state).toBe('cancelled');
          expect(ends).toHaveLength(0);
          expect(jobEvents.some((e) => e.type === 'job.cancel_requested')).toBe(true);
        }
      }
    }
  }
}

describe('StateMachine property: legal operation sequences keep the invariants', () => {
  it('holds for random jobs, nodes and operations', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ jobs, nodes, ops, seed }) => {
        const h = await Harness.open(seededRandom(seed));
        try {
          const liveNodes = Array.from({ length: nodes }, (_, i) => h.node(`n${i}`));
          const submitted = jobs.map((j, i) => {
            const shared = { name: `job${i}`, retry: { attempts: j.attempts, backoff: '1s' }, resources: { cpu: j.cpu, memory: j.memory } };
            if (j.stages === 1) return h.submit({ ...shared, tasks: j.tasks });
            const stages = Array.from({ length: j.stages }, (_, k) => ({ name: `s${k}`, command: ['true'], tasks: j.tasks, dependsOn: k === 0 ? [] : [`s${k - 1}`] }));
            return h.submit({ ...shared, stages });
          });
          // Later stages' tasks appear as earlier ones finish; ops pick among every task seen so far.
          const taskIds = submitted.flatMap((s) => s.tasks.map((t) => t.id));
          const seen = new Set(taskIds);
          const noteNewTasks = () => {
            for (const id of h.hot.tasks.keys()) {
              if (seen.has(id)) continue;
              seen.add(id);
              taskIds.push(id);
            }
          };
          const jobIds = submitted.map((s) => s.job.id);
          const issued = new Map<string, AttemptRecord[]>();

          /** The control plane's fencing: only the current attempt with its epoch may complete a task. */
          const deliver = (attemptRecord: AttemptRecord, result: AttemptResult): void => {
            const attempt = h.hot.attempts.get(result.attemptId);
            const current = attempt && attempt.epoch === result.epoch && h.hot.tasks.get(attempt.taskId)?.currentAttemptId === attempt.id;
            if (attempt && current) h.sm.finishAttempt(attempt, result);
            else h.sm.recordIgnoredResult(attemptRecord.node, result, 'attempt is not current');
          };

          for (const op of ops) {
            const taskId = taskIds[('task' in op ? op.task : 0) % taskIds.length]!;
            const task = h.hot.tasks.get(taskId);
            const attempt = task?.currentAttemptId ? h.hot.attempts.get(task.currentAttemptId) : undefined;
            switch (op.kind) {
              case 'place':
                if (task?.state === 'pending') {
                  const placed = h.place(taskId, liveNodes[op.node % liveNodes.length]!);
                  issued.set(taskId, [...(issued.get(taskId) ?? []), placed]);
                }
                break;
              case 'start':
                if (attempt?.state === 'assigned') h.sm.markStarted(attempt, h.clock.now());
                break;
              case 'result':
                if (attempt) {
                  deliver(attempt, resultFor(attempt, op.outcome, h.clock.now(), op.reportStart ? {} : { startedAt: attempt.startedAt }));
                }
                break;
              case 'stale': {
                const earlier = issued.get(taskId) ?? [];
                const old = earlier[op.pick % Math.max(1, earlier.length)];
                if (old) deliver(old, resultFor(old, op.outcome, h.clock.now()));
                break;
              }
              case 'lose':
                if (attempt) h.sm.loseAttempt(attempt, 'node is down');
                break;
              case 'cancel': {
                const jobId = jobIds[op.job % jobIds.length]!;
                if (h.hot.jobs.has(jobId)) h.sm.cancelJob(jobId, 'cancelled by test');
                break;
              }
              case 'tick':
                h.clock.advance(op.ms);
                break;
              case 'commit':
                await checkStoreInvariants(h, submitted);
                break;
            }
            noteNewTasks();
            checkHotInvariants(h, jobIds);
          }
          await checkStoreInvariants(h, submitted);
          expect(h.fatal).toEqual([]);
        } finally {
          await h.close();
        }
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
