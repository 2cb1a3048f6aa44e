import { describe, expect, it } from 'vitest';
import type { EventRecord, EventType } from '../../src/core/types.js';
import { checkRun, type RunExpectations } from './chaos-checker.js';

// The checker must catch each kind of fault it is there for; a clean log must pass.

const expectations: RunExpectations = {
  jobId: 'j',
  taskCount: 2,
  jurisdictionOf: new Map([['de-1', 'DE'], ['fr-1', 'FR'], ['us-1', 'US']]),
  allowed: new Set(['DE', 'FR']),
};

class Log {
  readonly events: EventRecord[] = [];
  add(type: EventType, refs: { taskId?: string; attemptId?: string; node?: string }, data: Record<string, unknown> = {}): this {
    this.events.push({ seq: this.events.length + 1, time: this.events.length, type, jobId: 'j', taskId: refs.taskId ?? null, attemptId: refs.attemptId ?? null, node: refs.node ?? null, data });
    return this;
  }
  placed(task: number, epoch: number, node: string): this {
    return this.add('task.placed', { taskId: `j.${task}`, attemptId: `j.${task}.${epoch}`, node });
  }
  finished(task: number, epoch: number, outcome = 'succeeded'): this {
    return this.add('attempt.finished', { taskId: `j.${task}`, attemptId: `j.${task}.${epoch}` }, { outcome });
  }
  lost(task: number, epoch: number): this {
    return this.add('attempt.lost', { taskId: `j.${task}`, attemptId: `j.${task}.${epoch}` });
  }
  ignored(task: number, epoch: number): this {
    return this.add('attempt.result_ignored', { taskId: `j.${task}`, attemptId: `j.${task}.${epoch}` });
  }
  jobFinished(state = 'succeeded'): this {
    return this.add('job.finished', {}, { state });
  }
}

/** Task 0 loses its node and its stale result is refused; task 1 runs once. */
const clean = () => new Log().placed(0, 1, 'de-1').placed(1, 1, 'fr-1').lost(0, 1).placed(0, 2, 'fr-1').ignored(0, 1).finished(0, 2).finished(1, 1);

describe('checkRun', () => {
  it('passes a clean run with a lost attempt and a refused stale result', () => {
    const report = checkRun(clean().jobFinished().events, expectations);
    expect(report).toEqual({ violations: [], placements: 3, acceptedCompletions: 2, lostAttempts: 1, ignoredResults: 1, jobState: 'succeeded' });
  });

  it.each<{ name: string; log: () => Log; violation: string }>([
    { name: 'a placement outside the residency', log: () => clean().placed(1, 2, 'us-1').jobFinished(), violation: 'j.1 placed on us-1 in US, outside [DE, FR] (event 8)' },
    { name: 'a task that succeeded twice', log: () => clean().placed(1, 2, 'de-1').finished(1, 2).jobFinished(), violation: 'j.1 succeeded 2 times (j.1.1, j.1.2)' },
    { name: 'a stale result that was counted', log: () => clean().finished(0, 1).jobFinished(), violation: 'j.0.1 finished after it had already ended (event 8)' },
    { name: 'a result counted from an attempt that was not current', log: () => new Log().placed(0, 1, 'de-1').placed(0, 2, 'de-1').finished(0, 1).finished(0, 2).placed(1, 1, 'de-1').finished(1, 1).jobFinished(), violation: 'j.0.1 finished while j.0.2 was current for j.0 (event 3)' },
    { name: 'a refused result from the current attempt', log: () => clean().placed(1, 2, 'de-1').ignored(1, 2).jobFinished(), violation: 'a result of j.1.2, the current attempt of j.1, was refused (event 9)' },
    { name: 'a task that never succeeded', log: () => new Log().placed(0, 1, 'de-1').finished(0, 1).placed(1, 1, 'de-1').finished(1, 1, 'failed').jobFinished('failed'), violation: 'j.1 never succeeded' },
    { name: 'a job that never finished', log: () => clean(), violation: 'job j never finished' },
  ])('reports $name', ({ log, violation }) => {
    expect(checkRun(log().events, expectations).violations).toContain(violation);
  });
});
