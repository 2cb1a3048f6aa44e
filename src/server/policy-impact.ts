import type { AttemptOnDeniedNode, BlockedJob, PolicyImpact } from '../core/policy-impact.js';
import { AtollError } from '../core/errors.js';
import { readsData, stageOf } from '../core/job-spec.js';
import type { PolicySpec } from '../core/policy-spec.js';
import type { JobRecord, TaskRecord } from '../core/types.js';
import { hardRuleChecker, requestFromJob, stageGroupKey, snapshotNodeFrom, type HardRejection, type PlacementRequest, type SnapshotNode, type TaskInput } from '../scheduler/engine.js';
import type { HotState } from './state/hot-state.js';

// What replacing the policies in force would do to work already in the system, for the answer to
// every policy apply (dry run or not) and delete. It runs on the event loop, so it asks each
// question once: jobs with the same namespace, placement and tolerations share one answer per
// node, and each policy list is compiled once for the whole report.

/**
 * Live jobs with pending tasks that some ready node takes now and none would take after
 * (capacity aside), and active attempts on nodes `next` denies but `current` allows.
 */
export function policyImpact(hot: HotState, current: readonly PolicySpec[], next: readonly PolicySpec[], inputsOf: InputsOf = () => []): PolicyImpact {
  // Every node as if ready: whether a node is reachable right now does not change whether the
  // rules allow its attempts (they may still run), and pending work only looks at ready nodes.
  const nodes = [...hot.nodes.values()].map((n) => ({
    ready: n.record.state === 'ready',
    snapshot: { ...snapshotNodeFrom(n.record, { cpuMillis: n.allocatedCpuMillis, memoryBytes: n.allocatedMemoryBytes }), state: 'ready' } as SnapshotNode,
  }));
  const snapshots = nodes.map((n) => n.snapshot);
  const before = hardRuleChecker(current, snapshots);
  const after = hardRuleChecker(next, snapshots);
  const ready = nodes.filter((n) => n.ready).map((n) => n.snapshot);
  const byName = new Map(snapshots.map((s) => [s.name, s]));
  const requestOf = (job: JobRecord, taskId: string): PlacementRequest => {
    const task = hot.tasks.get(taskId);
    if (task === undefined) throw new AtollError('internal', `task ${taskId} is not active`);
    return requestFromJob(job, task, readsData(stageOf(job.spec, task.stage)) ? inputsOf(job, task) : undefined);
  };
  return { blockedJobs: blockedJobs(hot, ready, before, after, requestOf), runningOnDeniedNodes: attemptsOnDeniedNodes(hot, byName, before, after, requestOf) };
}

/** Where a task's inputs live, from the data catalog: the residency classes of data are hard rules too. */
export type InputsOf = (job: JobRecord, task: TaskRecord) => TaskInput[];
type RequestOf = (job: JobRecord, taskId: string) => PlacementRequest;

type Checker = (request: PlacementRequest, node: SnapshotNode) => HardRejection | undefined;

function blockedJobs(hot: HotState, ready: readonly SnapshotNode[], before: Checker, after: Checker, requestOf: RequestOf): BlockedJob[] {
  // Tasks of a stage share its placement, so the first pending one of each stage stands for all.
  const firstPending = new Map<string, { jobId: string; taskId: string }>();
  for (const taskId of hot.pending) {
    const task = hot.tasks.get(taskId);
    const key = task && stageGroupKey(task.jobId, task.stage);
    if (task && key && !firstPending.has(key)) firstPending.set(key, { jobId: task.jobId, taskId });
  }
  // The most common rejection among the nodes the change takes away, or undefined when it blocks nothing.
  const verdicts = new Map<string, string | undefined>();
  const blocked: BlockedJob[] = [];
  for (const { jobId, taskId } of firstPending.values()) {
    const live = hot.jobs.get(jobId);
    if (!live || blocked.some((b) => b.jobId === jobId)) continue;
    const request = requestOf(live.record, taskId);
    const key = rulesKey(request);
    if (!verdicts.has(key)) verdicts.set(key, blockReason(request, ready, before, after));
    const reason = verdicts.get(key);
    if (reason === undefined) continue;
    const { name, namespace } = live.record;
    blocked.push({ jobId, name, namespace, pendingTasks: live.counts.pending, reason });
  }
  return blocked;
}

function blockReason(request: PlacementRequest, ready: readonly SnapshotNode[], before: Checker, after: Checker): string | undefined {
  const taken: string[] = [];
  for (const node of ready) {
    const rejection = after(request, node);
    if (rejection === undefined) return undefined;
    if (before(request, node) === undefined) taken.push(rejection.summary);
  }
  return taken.length === 0 ? undefined : mostCommon(taken);
}

function attemptsOnDeniedNodes(hot: HotState, nodes: ReadonlyMap<string, SnapshotNode>, before: Checker, after: Checker, requestOf: RequestOf): AttemptOnDeniedNode[] {
  const denied: AttemptOnDeniedNode[] = [];
  // Attempts whose rules agree get the same answer on one node.
  const verdicts = new Map<string, HardRejection | undefined>();
  for (const attempt of hot.attempts.values()) {
    if (attempt.state !== 'assigned' && attempt.state !== 'running') continue;
    const live = hot.jobs.get(attempt.jobId);
    const node = nodes.get(attempt.node);
    if (!live || !node) continue;
    const request = requestOf(live.record, attempt.taskId);
    const key = `${rulesKey(request)}\u0000${attempt.node}`;
    if (!verdicts.has(key)) {
      // Work the rules in force already deny is not this change's doing.
      verdicts.set(key, before(request, node) !== undefined ? undefined : after(request, node));
    }
    const rejection = verdicts.get(key);
    if (rejection !== undefined) denied.push({ jobId: attempt.jobId, taskId: attempt.taskId, attemptId: attempt.id, node: attempt.node, reason: rejection.message });
  }
  return denied;
}

/** Jobs that agree on these answer every hard-rule question alike (of their inputs, only class and presence matter). */
function rulesKey(request: PlacementRequest): string {
  const data = [...new Set((request.inputs ?? []).map((i) => (i.missing === true ? '!missing' : i.residencyClass ?? '')))].sort();
  return JSON.stringify([request.namespace, request.placement, request.tolerations, data]);
}

function mostCommon(values: readonly string[]): string {
  const counts = new Map<string, number>();
  let best = values[0] ?? '';
  for (const value of values) {
    const n = (counts.get(value) ?? 0) + 1;
    counts.set(value, n);
    if (n > (counts.get(best) ?? 0)) best = value;
  }
  return best;
}

/** One line for people: what happened, what it blocks, and that running work is not stopped. */
export function describeChange(what: string, impact: PolicyImpact): string {
  const { blockedJobs, runningOnDeniedNodes } = impact;
  if (blockedJobs.length === 0 && runningOnDeniedNodes.length === 0) return `${what}; it blocks no queued or running work`;
  const parts: string[] = [];
  if (blockedJobs.length > 0) parts.push(`it blocks ${plural(blockedJobs.length, 'queued job')}, whose pending tasks no ready node may take`);
  if (runningOnDeniedNodes.length > 0) {
    parts.push(
      `${plural(runningOnDeniedNodes.length, 'attempt')} already on nodes it denies keep running (policies govern placement, they do not stop work; cancel those jobs with \`atoll cancel JOB\` if they must stop)`,
    );
  }
  return `${what}; ${parts.join('; ')}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
