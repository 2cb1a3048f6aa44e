import { stageOf } from '../core/job-spec.js';
import type { JobRecord } from '../core/types.js';
import type { PlacementRequest, TaskInput } from './framework/snapshot.js';

const HOUR_MS = 3_600_000;

/** Tasks of one stage share placement and spread; the key names that group. */
export function stageGroupKey(jobId: string, stage: number): string {
  return `${jobId}/${stage}`;
}

/**
 * What the scheduler needs of one task of a job's stage; tasks of a stage share its spec objects.
 * `inputs` (where the task's data lives now) come from the data catalog, which the caller holds.
 */
export function requestFromJob(job: JobRecord, task: { readonly id: string; readonly stage: number }, inputs?: readonly TaskInput[]): PlacementRequest {
  const spec = stageOf(job.spec, task.stage);
  return {
    ...(inputs === undefined || inputs.length === 0 ? {} : { inputs }),
    taskId: task.id,
    jobId: job.id,
    groupKey: stageGroupKey(job.id, task.stage),
    namespace: job.namespace,
    resources: { cpuMillis: spec.resources.cpu, memoryBytes: spec.resources.memory },
    placement: spec.placement,
    tolerations: spec.tolerations,
    expectedDurationMs: spec.placement.expectedDuration ?? spec.timeout ?? HOUR_MS,
  };
}
