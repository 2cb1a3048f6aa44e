import type { JobSpec } from './job-spec.js';
import type { JobRecord } from './types.js';

/** A job as accepted: pending, every stage waiting, no tasks yet (the state machine starts the first stages). */
export function newJobRecord(id: string, spec: JobSpec, now: number, heldBy: string | null = null): JobRecord {
  return {
    id, name: spec.name, namespace: spec.namespace, state: 'pending', spec, taskCount: 0,
    stages: spec.stages.map((stage) => ({ name: stage.name, state: 'waiting', firstTask: null, tasks: 0, startedAt: null, finishedAt: null, reason: null })),
    createdAt: now, startedAt: null, finishedAt: null, reason: null, heldBy,
  };
}
