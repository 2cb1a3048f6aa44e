import type { JobRecord } from '../core/types.js';
import type { PlacementRequest } from './framework/snapshot.js';

const HOUR_MS = 3_600_000;

/** What the scheduler needs of one task of a job; tasks of a job share its spec objects. */
export function requestFromJob(job: JobRecord, taskId: string): PlacementRequest {
  const { spec } = job;
  return {
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
