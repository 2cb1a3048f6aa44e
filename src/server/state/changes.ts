import type { AttemptRecord, EventRecord, JobRecord, LogChunk, NodeRecord, TaskRecord } from '../../core/types.js';
import type { AttemptPatch, JobPatch, NodePatch, TaskPatch, TokenRecord, WriteBatch } from '../../store/store.js';

/** The writes made since the last commit, accumulated by the state machine and written as one transaction. */
export class Changes {
  readonly jobs: JobRecord[] = [];
  readonly tasks: TaskRecord[] = [];
  readonly attempts: AttemptRecord[] = [];
  readonly jobPatches: JobPatch[] = [];
  readonly taskPatches: TaskPatch[] = [];
  readonly attemptPatches: AttemptPatch[] = [];
  readonly nodes: NodeRecord[] = [];
  readonly nodePatches: NodePatch[] = [];
  readonly tokens: TokenRecord[] = [];
  readonly logs: LogChunk[] = [];
  readonly events: EventRecord[] = [];
  /** Run in order once the batch is committed: sends to agents, acks, API answers. */
  readonly afterCommit: (() => void)[] = [];

  isEmpty(): boolean {
    return (
      this.jobs.length + this.tasks.length + this.attempts.length + this.jobPatches.length + this.taskPatches.length +
        this.attemptPatches.length + this.nodes.length + this.nodePatches.length + this.tokens.length + this.logs.length +
        this.events.length ===
      0
    );
  }

  toWriteBatch(): WriteBatch {
    return this;
  }
}
