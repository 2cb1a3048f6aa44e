import { partitionId, type PartitionRecord } from '../../core/data-spec.js';
import type { PolicyRecord } from '../../core/policy-spec.js';
import type { ChargeRecord } from '../../core/spend.js';
import type { AttemptRecord, EventRecord, JobRecord, LogChunk, NodeRecord, TaskRecord } from '../../core/types.js';
import type { AttemptPatch, JobPatch, JobSecretsRecord, NodePatch, SettingRecord, TaskPatch, TokenRecord, WriteBatch } from '../../store/store.js';

/** The writes made since the last commit, accumulated by the state machine and written as one transaction. */
export class Changes {
  readonly jobs: JobRecord[] = [];
  readonly jobSecrets: JobSecretsRecord[] = [];
  readonly deletedJobSecrets: string[] = [];
  readonly tasks: TaskRecord[] = [];
  readonly attempts: AttemptRecord[] = [];
  // Patches to one row within a batch are merged, so a task placed, started and finished
  // between two commits costs one UPDATE, not three.
  private readonly jobPatchMap = new Map<string, JobPatch>();
  private readonly taskPatchMap = new Map<string, TaskPatch>();
  private readonly attemptPatchMap = new Map<string, AttemptPatch>();
  private readonly nodePatchMap = new Map<string, NodePatch>();
  readonly nodes: NodeRecord[] = [];
  /** The last word on each policy changed in this batch: its new record, or null once deleted. */
  private readonly policyMap = new Map<string, PolicyRecord | null>();
  /** The same for catalog partitions, by id. */
  private readonly partitionMap = new Map<string, PartitionRecord | null>();
  readonly tokens: TokenRecord[] = [];
  readonly charges: ChargeRecord[] = [];
  readonly wastedAttempts: string[] = [];
  readonly settings: SettingRecord[] = [];
  readonly logs: LogChunk[] = [];
  readonly events: EventRecord[] = [];
  /** Run in order once the batch is committed: sends to agents, acks, API answers. */
  readonly afterCommit: (() => void)[] = [];

  patchJob(patch: JobPatch): void {
    this.jobPatchMap.set(patch.id, { ...this.jobPatchMap.get(patch.id), ...patch });
  }

  patchTask(patch: TaskPatch): void {
    this.taskPatchMap.set(patch.id, { ...this.taskPatchMap.get(patch.id), ...patch });
  }

  patchAttempt(patch: AttemptPatch): void {
    this.attemptPatchMap.set(patch.id, { ...this.attemptPatchMap.get(patch.id), ...patch });
  }

  patchNode(patch: NodePatch): void {
    this.nodePatchMap.set(patch.name, { ...this.nodePatchMap.get(patch.name), ...patch });
  }

  putPolicy(record: PolicyRecord): void {
    this.policyMap.set(record.name, record);
  }

  deletePolicy(name: string): void {
    this.policyMap.set(name, null);
  }

  putPartition(record: PartitionRecord): void {
    this.partitionMap.set(partitionId(record), record);
  }

  deletePartition(id: string): void {
    this.partitionMap.set(id, null);
  }

  isEmpty(): boolean {
    return (
      this.jobs.length + this.jobSecrets.length + this.deletedJobSecrets.length + this.tasks.length + this.attempts.length + this.jobPatchMap.size + this.taskPatchMap.size +
        this.attemptPatchMap.size + this.nodes.length + this.nodePatchMap.size + this.policyMap.size + this.partitionMap.size + this.tokens.length + this.charges.length + this.wastedAttempts.length + this.settings.length + this.logs.length +
        this.events.length ===
      0
    );
  }

  toWriteBatch(): WriteBatch {
    return {
      jobs: this.jobs,
      jobSecrets: this.jobSecrets,
      deletedJobSecrets: this.deletedJobSecrets,
      tasks: this.tasks,
      attempts: this.attempts,
      jobPatches: [...this.jobPatchMap.values()],
      taskPatches: [...this.taskPatchMap.values()],
      attemptPatches: [...this.attemptPatchMap.values()],
      nodes: this.nodes,
      nodePatches: [...this.nodePatchMap.values()],
      policies: [...this.policyMap.values()].filter((p): p is PolicyRecord => p !== null),
      deletedPolicies: [...this.policyMap].filter(([, p]) => p === null).map(([name]) => name),
      partitions: [...this.partitionMap.values()].filter((p): p is PartitionRecord => p !== null),
      deletedPartitions: [...this.partitionMap].filter(([, p]) => p === null).map(([id]) => id),
      tokens: this.tokens,
      charges: this.charges,
      wastedAttempts: this.wastedAttempts,
      settings: this.settings,
      logs: this.logs,
      events: this.events,
    };
  }
}
