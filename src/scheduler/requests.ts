import type { JobRecord } from '../core/types.js';
import type { PlacementRequest, TaskInput } from './framework/snapshot.js';

const HOUR_MS = 3_600_000;

/**
 * What the scheduler needs of one task of a job; tasks of a job share its spec objects. `inputs`
 * (where the task's data lives now) come from the data catalog, which the caller holds.
 */
export function requestFromJob(job: JobRecord, taskId: string, inputs?: readonly TaskInput[]): PlacementRequest {
  const { spec } = job;
  return {
    ...(inputs === undefined || inputs.length === 0 ? {} : { inputs }),
    taskId,
    jobId: job.id,
    groupKey: job.id,
    namespace: spec.namespace,
    resources: { cpuMillis: spec.resources.cpu, memoryBytes: spec.resources.memory },
    placement: spec.placement,
    tolerations: spec.tolerations,
    expectedDurationMs: spec.placement.expectedDuration ?? spec.timeout ?? HOUR_MS,
  };
}
