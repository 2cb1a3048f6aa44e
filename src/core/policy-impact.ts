import type { PolicyRecord } from './policy-spec.js';

// What changing the cluster policies would do to work already in the system. The API returns
// it for every apply (dry run or not) and delete; the CLI prints it.

/** A live job with pending tasks that some ready node takes today and none would take after. */
export interface BlockedJob {
  readonly jobId: string;
  readonly name: string;
  readonly namespace: string;
  readonly pendingTasks: number;
  /** The most common rejection, among the nodes the change takes away (`denied by policy finance`). */
  readonly reason: string;
}

/** An attempt assigned or running on a node the new policies deny. It keeps running. */
export interface AttemptOnDeniedNode {
  readonly jobId: string;
  readonly taskId: string;
  readonly attemptId: string;
  readonly node: string;
  readonly reason: string;
}

export interface PolicyImpact {
  readonly blockedJobs: readonly BlockedJob[];
  readonly runningOnDeniedNodes: readonly AttemptOnDeniedNode[];
}

/** The answer to `PUT /v1/policies/:name` and `DELETE /v1/policies/:name`. */
export interface PolicyChangeResult {
  /** The policy as applied (or, on a dry run, as it would be); on delete, the one removed. */
  readonly policy: PolicyRecord;
  readonly dryRun: boolean;
  /** Whether the apply created the policy rather than replacing one (false on delete). */
  readonly created: boolean;
  readonly impact: PolicyImpact;
  /** One line for people: what happened, what it blocks, and that running work is not stopped. */
  readonly message: string;
}
