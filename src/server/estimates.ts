import { AtollError } from '../core/errors.js';
import { newJobRecord } from '../core/job-record.js';
import type { JobSpec } from '../core/job-spec.js';
import { OBJECTIVES, type Objective } from '../core/placement-spec.js';
import { reservedShare } from '../core/price-book.js';
import { taskId as makeTaskId } from '../core/ids.js';
import type { JobRecord } from '../core/types.js';
import type { EstimateOption, JobEstimate } from '../core/estimate.js';
import { requestFromJob, type PlacementRequest, type Plan, type SchedulerSnapshot, type SnapshotNode, type TaskInput } from '../scheduler/engine.js';

// `atoll run --estimate`: where a job's work would go right now, what it would cost and how many
// bytes it would move, for its own `optimize` and for the other two objectives side by side.
// Nothing is written: the stages that start at once are planned on the live snapshot, exactly as
// a scheduling round would plan them.

const MS_PER_HOUR = 3_600_000;
const BYTES_PER_GB = 1e9;

export interface EstimateSources {
  /** The stage as it would start (forEach resolved), or an AtollError why it cannot. */
  resolveStage(job: JobRecord, index: number): JobSpec['stages'][number];
  inputsOf(job: JobRecord, task: { readonly index: number; readonly stage: number }): readonly TaskInput[];
  dryRun(requests: readonly PlacementRequest[]): { readonly plan: Plan; readonly snapshot: SchedulerSnapshot };
}

/** Plans the job's first stages under each objective; `jobId` is what its tasks would be numbered under. */
export function estimateJob(spec: JobSpec, jobId: string, now: number, sources: EstimateSources): JobEstimate {
  const later: { stage: string; reason: string }[] = [];
  const roots: { index: number; stage: JobSpec['stages'][number]; firstTask: number }[] = [];
  let job: JobRecord = newJobRecord(jobId, spec, now);
  // Numbered as the state machine numbers them: root stages start at submit, in order.
  spec.stages.forEach((declared, index) => {
    if (declared.dependsOn.length > 0) {
      later.push({ stage: declared.name, reason: `starts after ${declared.dependsOn.join(', ')}; where it runs depends on what they write` });
      return;
    }
    let stage: JobSpec['stages'][number];
    try {
      stage = sources.resolveStage(job, index);
    } catch (error) {
      if (!(error instanceof AtollError)) throw error;
      later.push({ stage: declared.name, reason: error.message });
      return;
    }
    const firstTask = job.taskCount;
    roots.push({ index, stage, firstTask });
    job = {
      ...job, taskCount: firstTask + stage.tasks,
      spec: { ...job.spec, stages: job.spec.stages.map((s, i) => (i === index ? stage : s)) },
      stages: job.stages.map((run, i) => (i === index ? { ...run, state: 'running', firstTask, tasks: stage.tasks } : run)),
    };
  });
  const own = spec.stages[0]?.placement.optimize ?? 'balanced';
  const objectives = [own, ...OBJECTIVES.filter((o) => o !== own)];
  return {
    name: spec.name, namespace: spec.namespace, objective: own, tasks: job.taskCount, later,
    options: objectives.map((objective) => estimateFor(job, roots, objective, sources)),
  };
}

function estimateFor(job: JobRecord, roots: readonly { index: number; stage: JobSpec['stages'][number]; firstTask: number }[], objective: Objective, sources: EstimateSources): EstimateOption {
  // The same job with every stage asking for this objective (its own weights still apply).
  const spec = { ...job.spec, stages: job.spec.stages.map((s) => ({ ...s, placement: { ...s.placement, optimize: objective } })) };
  const asked = { ...job, spec };
  const stageOfTask = new Map<string, { index: number; stage: string }>();
  const requests: PlacementRequest[] = [];
  for (const root of roots) {
    for (let k = 0; k < root.stage.tasks; k += 1) {
      const index = root.firstTask + k;
      const id = makeTaskId(job.id, index);
      stageOfTask.set(id, { index, stage: root.stage.name });
      const inputs = sources.inputsOf(asked, { index, stage: root.index });
      requests.push(requestFromJob(asked, { id, stage: root.index }, inputs));
    }
  }
  const { plan, snapshot } = sources.dryRun(requests);
  const nodes = new Map(snapshot.nodes.map((n) => [n.name, n]));
  const byId = new Map(requests.map((r) => [r.taskId, r]));
  let compute = 0;
  let transfer = 0;
  let bytesMoved = 0;
  const perNode = new Map<string, number>();
  const where = new Map<string, string>();
  for (const { taskId, node: name } of plan.assignments) {
    const request = byId.get(taskId)!;
    const node = nodes.get(name)!;
    where.set(taskId, name);
    perNode.set(name, (perNode.get(name) ?? 0) + 1);
    compute += node.priceHour * reservedShare(request.resources, node.capacity) * (request.expectedDurationMs / MS_PER_HOUR);
    for (const input of request.inputs ?? []) {
      if (input.node === name) continue;
      bytesMoved += input.bytes;
      const source: SnapshotNode = nodes.get(input.node) ?? { ...node, name: input.node, provider: '', region: '', zone: '' };
      transfer += (input.bytes / BYTES_PER_GB) * (snapshot.pricing?.perGb(source, node) ?? 0);
    }
  }
  const reasons: Record<string, number> = {};
  for (const unplaced of plan.unplaced) for (const [code, count] of Object.entries(unplaced.reasons)) reasons[code] = (reasons[code] ?? 0) + count;
  return {
    objective,
    placed: plan.assignments.length,
    unplaceable: plan.unplaced.length,
    reasons,
    cost: { compute, transfer, total: compute + transfer },
    bytesMoved,
    nodes: [...perNode].map(([name, tasks]) => {
      const node = nodes.get(name)!;
      return { node: name, provider: node.provider, region: node.region, site: node.site, tasks };
    }).sort((a, b) => b.tasks - a.tasks || (a.node < b.node ? -1 : 1)),
    tasks: requests.map((r) => ({ index: stageOfTask.get(r.taskId)!.index, stage: stageOfTask.get(r.taskId)!.stage, node: where.get(r.taskId) ?? null })),
  };
}
