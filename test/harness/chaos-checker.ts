import type { EventRecord } from '../../src/core/types.js';

// Reads a run's event log, and nothing else, and says what went wrong: the event log alone must
// be enough to audit a run (DESIGN.md invariant 4). Each check is one of the promises of the
// failure issue: every task succeeded exactly once, no placement broke residency, no task was
// left behind, and no result from an attempt that was no longer current was counted.

export interface RunExpectations {
  readonly jobId: string;
  readonly taskCount: number;
  /** Jurisdiction of every node that ever joined, by name. */
  readonly jurisdictionOf: ReadonlyMap<string, string | null>;
  /** The jurisdictions the job's residency allows. */
  readonly allowed: ReadonlySet<string>;
}

export interface RunReport {
  readonly violations: readonly string[];
  readonly placements: number;
  readonly acceptedCompletions: number;
  readonly lostAttempts: number;
  readonly ignoredResults: number;
  readonly jobState: string | undefined;
}

export function checkRun(events: readonly EventRecord[], expect: RunExpectations): RunReport {
  const violations: string[] = [];
  /** The attempt that is current for each task, as the log tells it (the latest placement). */
  const current = new Map<string, string>();
  /** Attempts the log has already ended (lost, finished or cancelled): no later result may count. */
  const ended = new Set<string>();
  const completions = new Map<string, string[]>();
  let placements = 0;
  let lost = 0;
  let ignored = 0;
  let jobState: string | undefined;

  for (const event of events) {
    if (event.jobId !== expect.jobId) continue;
    switch (event.type) {
      case 'task.placed': {
        placements += 1;
        const jurisdiction = expect.jurisdictionOf.get(event.node ?? '');
        if (jurisdiction === undefined || jurisdiction === null || !expect.allowed.has(jurisdiction)) {
          violations.push(`${event.taskId} placed on ${event.node} in ${jurisdiction ?? 'no jurisdiction'}, outside [${[...expect.allowed].join(', ')}] (event ${event.seq})`);
        }
        current.set(event.taskId!, event.attemptId!);
        break;
      }
      case 'attempt.lost':
        lost += 1;
        ended.add(event.attemptId!);
        break;
      case 'attempt.finished': {
        const attemptId = event.attemptId!;
        if (ended.has(attemptId)) violations.push(`${attemptId} finished after it had already ended (event ${event.seq})`);
        if (current.get(event.taskId!) !== attemptId) violations.push(`${attemptId} finished while ${current.get(event.taskId!) ?? 'no attempt'} was current for ${event.taskId} (event ${event.seq})`);
        ended.add(attemptId);
        if (event.data.outcome === 'succeeded') completions.set(event.taskId!, [...(completions.get(event.taskId!) ?? []), attemptId]);
        break;
      }
      case 'attempt.result_ignored':
        ignored += 1;
        if (event.attemptId === current.get(event.taskId!) && !ended.has(event.attemptId!)) {
          violations.push(`a result of ${event.attemptId}, the current attempt of ${event.taskId}, was refused (event ${event.seq})`);
        }
        break;
      case 'job.finished':
        jobState = String(event.data.state);
        break;
      default:
        break;
    }
  }

  for (let index = 0; index < expect.taskCount; index++) {
    const taskId = `${expect.jobId}.${index}`;
    const accepted = completions.get(taskId) ?? [];
    if (accepted.length === 0) violations.push(`${taskId} never succeeded`);
    if (accepted.length > 1) violations.push(`${taskId} succeeded ${accepted.length} times (${accepted.join(', ')})`);
  }
  if (jobState !== 'succeeded') violations.push(`job ${expect.jobId} ${jobState === undefined ? 'never finished' : `finished ${jobState}`}`);
  const acceptedCompletions = [...completions.values()].reduce((sum, list) => sum + list.length, 0);
  return { violations, placements, acceptedCompletions, lostAttempts: lost, ignoredResults: ignored, jobState };
}
