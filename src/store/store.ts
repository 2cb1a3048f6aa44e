import type { IdentityStore } from './identity-store.js';
import type { PartitionRecord } from '../core/data-spec.js';
import type { PolicyRecord } from '../core/policy-spec.js';
import type { AuditRecord, Role } from '../core/access.js';
import type { ChargeRecord, SpendGroup, SpendRow } from '../core/spend.js';
import type { JobState, TaskState } from '../core/states.js';
import type {
  AttemptRecord,
  EventRecord,
  EventType,
  JobRecord,
  LogChunk,
  NodeRecord,
  TaskCounts,
  TaskRecord,
} from '../core/types.js';

// The seam between the control plane and its durable state. SQLite today, PostgreSQL later:
// a second implementation must pass store-conformance.ts and must not change any caller.

/** `api`: people and tools using the API, with a role; `join`: agents joining; `node`: one node's credential. */
export type TokenKind = 'api' | 'join' | 'node';
export interface TokenRecord {
  readonly id: string;
  readonly kind: TokenKind;
  /** sha256 of the secret; secrets themselves are never stored. */
  readonly hash: string;
  /** For node credentials: the node the token speaks for. */
  readonly node: string | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  /** For API tokens: what it may do. */
  readonly role: Role | null;
  /** For API tokens: the namespaces it may act in; null means every namespace (and the cluster itself). */
  readonly namespaces: readonly string[] | null;
  /** A name people gave it, to tell tokens apart in lists and in the audit log. */
  readonly name: string | null;
  /** When it stops working on its own (dashboard sign-in sessions); null: never. */
  readonly expiresAt: number | null;
  /** A sign-in session's maker: the session works only while its parent does. Null for other tokens. */
  readonly parentId: string | null;
}

export type { AuditRecord, Role } from '../core/access.js';
export { ROLES } from '../core/access.js';
export type NewAudit = Omit<AuditRecord, 'seq'>;

export interface AuditFilter {
  readonly afterSeq?: number;
  readonly since?: number;
  readonly actor?: string;
  readonly outcome?: AuditRecord['outcome'];
  readonly namespace?: string;
  readonly limit?: number;
}

/**
 * A job's secret values, sealed (server/secrets/): entry i maps stage i's secret names to their
 * sealed values. Kept apart from the job's spec, which holds only the redacted placeholder.
 */
export type SealedSecrets = readonly Readonly<Record<string, string>>[];

export interface JobSecretsRecord {
  readonly jobId: string;
  readonly sealed: SealedSecrets;
}

export interface Page {
  readonly offset?: number;
  readonly limit?: number;
}

export interface JobFilter extends Page {
  readonly namespace?: string;
  /** Only jobs in one of these namespaces (a scoped token's view). */
  readonly namespaces?: readonly string[];
  readonly state?: JobState;
}

export interface TaskFilter extends Page {
  readonly state?: TaskState;
}

export interface Listing<T> {
  readonly items: readonly T[];
  readonly total: number;
}

type Patch<T, K extends keyof T> = Pick<T, K> & Partial<Omit<T, K>>;
export type TaskPatch = Patch<TaskRecord, 'id'>;
export type AttemptPatch = Patch<AttemptRecord, 'id'>;
export type JobPatch = Patch<JobRecord, 'id'>;
export type NodePatch = Patch<NodeRecord, 'name'>;

/** A cluster-wide setting (the price book), shared by every control-plane replica. */
export interface SettingRecord {
  readonly name: string;
  readonly value: unknown;
  readonly updatedAt: number;
}

export interface SpendFilter {
  /** Charges at or after this time (epoch ms). */
  readonly since?: number;
  readonly namespace?: string;
  readonly jobId?: string;
}

/** Everything written in one transaction. Writes are applied in the order of the fields below. */
export interface WriteBatch {
  readonly jobs?: readonly JobRecord[];
  /** Sealed secrets of new jobs, written with them. */
  readonly jobSecrets?: readonly JobSecretsRecord[];
  /** Jobs whose sealed secrets are no longer needed (they finished); deleting none is not an error. */
  readonly deletedJobSecrets?: readonly string[];
  readonly tasks?: readonly TaskRecord[];
  readonly attempts?: readonly AttemptRecord[];
  readonly jobPatches?: readonly JobPatch[];
  readonly taskPatches?: readonly TaskPatch[];
  readonly attemptPatches?: readonly AttemptPatch[];
  readonly nodes?: readonly NodeRecord[];
  readonly nodePatches?: readonly NodePatch[];
  /** Cluster policies, inserted or replaced whole by name. */
  readonly policies?: readonly PolicyRecord[];
  /** Names of policies to delete, after the upserts; deleting one that does not exist is not an error. */
  readonly deletedPolicies?: readonly string[];
  /** Data catalog entries, inserted or replaced whole by namespace/dataset/partition. */
  readonly partitions?: readonly PartitionRecord[];
  /** Ids (`namespace/dataset/partition`) of catalog entries to delete, after the upserts. */
  readonly deletedPartitions?: readonly string[];
  /** Revoke every live credential of these nodes (applied before `tokens` are added). */
  readonly revokeNodeTokens?: readonly { readonly node: string; readonly at: number }[];
  readonly tokens?: readonly TokenRecord[];
  /** API tokens to revoke (by id), after `tokens` are added. */
  readonly revokeTokens?: readonly { readonly id: string; readonly at: number }[];
  readonly audit?: readonly NewAudit[];
  /** Spend ledger entries, inserted or replaced whole by id. */
  readonly charges?: readonly ChargeRecord[];
  /** Attempts that ended without success: their charges (present and already written) become waste. */
  readonly wastedAttempts?: readonly string[];
  /** Settings, inserted or replaced whole by name. */
  readonly settings?: readonly SettingRecord[];
  /** Logs and events carry their seq: the single writer assigns them, so it can publish them right after commit. */
  readonly logs?: readonly LogChunk[];
  readonly events?: readonly EventRecord[];
}

/** What the control plane rebuilds its in-memory hot state from at start-up. */
export interface ActiveState {
  readonly jobs: readonly JobRecord[];
  readonly tasks: readonly TaskRecord[];
  readonly attempts: readonly AttemptRecord[];
  readonly nodes: readonly NodeRecord[];
  /** Every cluster policy: the scheduler needs them all from the first round. */
  readonly policies: readonly PolicyRecord[];
  /** The whole data catalog: placement weighs where data lives. */
  readonly partitions: readonly PartitionRecord[];
  /** Sealed secrets of the active jobs that have any. */
  readonly jobSecrets: readonly JobSecretsRecord[];
}

export interface Store {
  /** Join tokens and node identities. */
  identities(): IdentityStore;
  /** Bring the schema up to date. Safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Apply a batch atomically; resolves only after it is committed (invariant 3). */
  write(batch: WriteBatch): Promise<void>;

  findToken(hash: string): Promise<TokenRecord | undefined>;
  listTokens(kind: TokenKind): Promise<readonly TokenRecord[]>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  /** The audit log, oldest first, from `afterSeq`. */
  listAudit(filter: AuditFilter): Promise<readonly AuditRecord[]>;

  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(filter: JobFilter): Promise<Listing<JobRecord>>;
  countTasksByState(jobIds: readonly string[]): Promise<ReadonlyMap<string, TaskCounts>>;
  /** Task counts per stage: entry i counts stage i's tasks (a stage not started yet may be missing at the end). */
  countTasksByStage(jobIds: readonly string[]): Promise<ReadonlyMap<string, readonly TaskCounts[]>>;

  getTask(id: string): Promise<TaskRecord | undefined>;
  listTasks(jobId: string, filter: TaskFilter): Promise<Listing<TaskRecord>>;
  /** Every task's state by index, and nothing else: what a 100,000-task grid needs. */
  listTaskStates(jobId: string): Promise<readonly { readonly index: number; readonly state: TaskState }[]>;
  listAttempts(taskId: string): Promise<readonly AttemptRecord[]>;

  getNode(name: string): Promise<NodeRecord | undefined>;
  listNodes(): Promise<readonly NodeRecord[]>;

  /** Every cluster policy, by name. */
  listPolicies(): Promise<readonly PolicyRecord[]>;

  /** Every catalog entry, by namespace, dataset and partition. */
  listPartitions(): Promise<readonly PartitionRecord[]>;

  getSetting(name: string): Promise<SettingRecord | undefined>;

  /** Charges summed, by `groupBy` (largest total first) or as one row with key "" when left out. */
  /** Charges summed by `groupBy` (or in total), and with `perDay` by UTC day as well (rows carry `day`). */
  sumSpend(filter: SpendFilter, groupBy?: SpendGroup, perDay?: boolean): Promise<readonly SpendRow[]>;

  /** Events with seq greater than `afterSeq`, oldest first. */
  /** Events after `afterSeq` in log order: the first `limit` of them, or with `newest` the last `limit`. */
  listEvents(filter: { afterSeq: number; limit: number; jobId?: string; newest?: boolean }): Promise<readonly EventRecord[]>;
  /** The most recent event of a type about one task (e.g. its latest placement). */
  latestTaskEvent(taskId: string, type: EventType): Promise<EventRecord | undefined>;
  /** Log chunks of the given attempts with seq greater than `afterSeq`, oldest first. */
  listLogs(filter: { attemptIds: readonly string[]; afterSeq: number; limit: number }): Promise<readonly LogChunk[]>;

  loadActiveState(): Promise<ActiveState>;
  /** Highest event and log seq written so far (0 when none). */
  maxSeqs(): Promise<{ readonly event: number; readonly log: number }>;
}

export function emptyCounts(): TaskCounts {
  return { pending: 0, assigned: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
}

export function sumCounts(all: readonly TaskCounts[]): TaskCounts {
  const sum = { ...emptyCounts() };
  for (const counts of all) for (const key of Object.keys(sum) as (keyof TaskCounts)[]) sum[key] += counts[key];
  return sum;
}

