import type { SpendSummary } from './spend.js';
import type { JobSpec } from './job-spec.js';
import type { Labels } from './label-selector.js';
import type { NodeKind } from './node-spec.js';
import type { Taint } from './placement-spec.js';
import type { AttemptState, JobState, NodeState, StageState, TaskState } from './states.js';

// Records as the control plane keeps them and the API returns them. Times are epoch milliseconds.

export interface Resources {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/** Where a node is: what placement by provider, region, site, jurisdiction and distance reads. */
export interface NodeLocation {
  readonly provider: string;
  readonly region: string;
  readonly zone: string;
  readonly site: string;
  readonly kind: NodeKind;
  /** ISO 3166-1 alpha-2 country code. */
  readonly jurisdiction: string | null;
  readonly lat: number | null;
  readonly lon: number | null;
}

export interface NodeRecord extends NodeLocation {
  readonly name: string;
  readonly capacity: Resources;
  readonly priceHour: number;
  readonly labels: Labels;
  /** Only tasks that tolerate every taint may run here; edge nodes carry `edge` by default. */
  readonly taints: readonly Taint[];
  /** Round-trip times the agent measured, in ms by region name; they beat distance estimates. */
  readonly rttMs: Readonly<Record<string, number>>;
  /** What the control plane sees now; `cordoned` and `draining` are set from the two fields below. */
  readonly state: NodeState;
  /** An operator took the node out of placement (`atoll node cordon` or a drain); kept across reconnects. */
  readonly cordoned: boolean;
  /** While draining: when attempts still running are stopped and placed elsewhere. */
  readonly drainDeadline: number | null;
  /** Where the agent serves partitions to peers (`http://10.0.0.7:7701`); null when unreachable (behind NAT). */
  readonly dataUrl: string | null;
  readonly agentVersion: string;
  readonly joinedAt: number;
  readonly lastSeenAt: number;
  /** What the agent last reported it has in use, from its own view. */
  readonly usage: NodeUsage;
}

export interface NodeUsage {
  readonly runningAttempts: number;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly loadAvg1: number;
}

export interface TaskCounts {
  readonly pending: number;
  readonly assigned: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
}

export interface JobRecord {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly state: JobState;
  readonly spec: JobSpec;
  /** Tasks created so far: a stage's tasks are created when it starts. */
  readonly taskCount: number;
  /** Progress of each stage, in the order of `spec.stages`. */
  readonly stages: readonly StageRun[];
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Why the job failed or was cancelled. */
  readonly reason: string | null;
  /**
   * The budget policy holding the job's tasks back: it was accepted while its namespace was over
   * a budget that queues (`whenExceeded: queue`). Null once there is budget again.
   */
  readonly heldBy: string | null;
}

/** Where one stage of a job stands. */
export interface StageRun {
  readonly name: string;
  readonly state: StageState;
  /** Index of the stage's first task; its tasks are `firstTask .. firstTask + tasks - 1`. Null while waiting. */
  readonly firstTask: number | null;
  readonly tasks: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Why it failed, was skipped or cancelled. */
  readonly reason: string | null;
}

export interface StageView extends StageRun {
  readonly dependsOn: readonly string[];
  readonly counts: TaskCounts;
}

/** A node as the API shows it: its record, and its price as the price book sets it (`priceHour` is what it declared). */
export interface NodeView extends NodeRecord {
  readonly price: { readonly hour: number; readonly from: 'book' | 'node' | 'none'; readonly source: string | null };
}

export interface JobView extends Omit<JobRecord, 'stages'> {
  readonly counts: TaskCounts;
  readonly stages: readonly StageView[];
  /** What the job has cost so far, with transfers and waste; in single-job answers only, not in listings. */
  readonly cost?: SpendSummary;
  /** In the answer to a submission: what its submitter should know (a budget nearly spent). */
  readonly warnings?: readonly string[];
}

export interface TaskRecord {
  readonly id: string;
  readonly jobId: string;
  /** Unique in the job across stages: task ids are `<job>.<index>`. */
  readonly index: number;
  /** Index of its stage in `spec.stages`. */
  readonly stage: number;
  readonly state: TaskState;
  readonly node: string | null;
  /** Every attempt made, including failed and lost ones. */
  readonly attempts: number;
  /** Failed attempts, counted against `retry.attempts`. */
  readonly failures: number;
  /** Attempts lost with their node, counted against `retry.nodeLosses`. */
  readonly losses: number;
  readonly currentAttemptId: string | null;
  /** Fencing epoch of the current attempt: only a result carrying it may complete the task. */
  readonly epoch: number;
  readonly exitCode: number | null;
  readonly reason: string | null;
  /** Do not place before this time (retry backoff). */
  readonly notBefore: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** A task as the API returns it: a pending one says why it waits, a placed one where it runs. */
export interface TaskView extends TaskRecord {
  readonly stageName: string;
  readonly location?: Pick<NodeLocation, 'provider' | 'region' | 'zone' | 'site' | 'jurisdiction'>;
}

export interface AttemptRecord {
  readonly id: string;
  readonly taskId: string;
  readonly jobId: string;
  readonly epoch: number;
  readonly node: string;
  readonly state: AttemptState;
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

export type EventType =
  | 'job.submitted'
  | 'job.started'
  | 'job.finished'
  | 'job.cancel_requested'
  | 'stage.started'
  | 'stage.finished'
  | 'task.placed'
  | 'task.unplaceable'
  | 'task.retry_scheduled'
  | 'task.cancelled'
  | 'attempt.started'
  | 'attempt.finished'
  | 'attempt.result_ignored'
  | 'attempt.lost'
  | 'node.joined'
  | 'node.state_changed'
  | 'node.cordoned'
  | 'node.uncordoned'
  | 'node.drain_started'
  | 'node.drained'
  | 'policy.applied'
  | 'policy.deleted'
  | 'scheduler.error'
  | 'partition.stored'
  | 'partition.removed'
  | 'partition.report_ignored'
  | 'transfer.refused'
  | 'transfer.completed'
  | 'pricing.updated'
  | 'budget.warning'
  | 'budget.exceeded'
  | 'job.held'
  | 'job.released'
  | 'node.join_refused'
  | 'node.identity_refused'
  | 'node.revoked'
  | 'node.certificate_issued'
  | 'join_token.created'
  | 'join_token.revoked';

export interface EventRecord {
  readonly seq: number;
  readonly time: number;
  readonly type: EventType;
  readonly jobId: string | null;
  readonly taskId: string | null;
  readonly attemptId: string | null;
  readonly node: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

export type NewEvent = Omit<EventRecord, 'seq'>;

export type LogStream = 'stdout' | 'stderr';

export interface LogChunk {
  readonly seq: number;
  readonly attemptId: string;
  readonly taskId: string;
  readonly stream: LogStream;
  readonly time: number;
  readonly data: string;
}
