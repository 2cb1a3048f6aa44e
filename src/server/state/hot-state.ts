import type { PartitionRecord } from '../../core/data-spec.js';
import type { PolicyRecord } from '../../core/policy-spec.js';
import { LIST_PRICE_BOOK } from '../../core/price-book.js';
import { Pricing } from '../pricing.js';
import { PendingQueue } from './pending-queue.js';
import type { AttemptRecord, JobRecord, NodeRecord, TaskCounts, TaskRecord } from '../../core/types.js';
import type { SealedSecrets } from '../../store/store.js';

// What the control plane keeps in memory: every node and cluster policy, and the jobs, tasks and
// attempts that are not finished yet. Finished records live only in the store. Rebuilt from the store at start-up.

export interface LiveNode {
  record: NodeRecord;
  /** Resources reserved by the node's active attempts. */
  allocatedCpuMillis: number;
  allocatedMemoryBytes: number;
  connected: boolean;
  lastHeartbeatAt: number;
  /** While unreachable: when its attempts are declared lost unless the agent returns first. */
  lostDeadline: number | null;
  /** The agent said it is shutting down: its disconnect means `left`, not `unreachable`. */
  leaving: boolean;
  readonly attemptIds: Set<string>;
}

export interface LiveJob {
  record: JobRecord;
  counts: Record<keyof TaskCounts, number>;
  /** The same per stage, by stage index. */
  stageCounts: Record<keyof TaskCounts, number>[];
  /** First final task failure, quoted in the job's reason. */
  firstFailure: string | null;
  /** The job's secret values, sealed; opened only to build an attempt's assignment. */
  sealedSecrets?: SealedSecrets;
}

export class HotState {
  readonly nodes = new Map<string, LiveNode>();
  readonly jobs = new Map<string, LiveJob>();
  readonly tasks = new Map<string, TaskRecord>();
  readonly attempts = new Map<string, AttemptRecord>();
  /** Cluster policies by name; every scheduling round reads them all. */
  readonly policies = new Map<string, PolicyRecord>();
  /** Bumped by every policy change, so readers can cache what they derive from `policies`. */
  policiesVersion = 0;
  /** The price book in force; replaced whole when an admin applies a new one. */
  pricing = new Pricing(LIST_PRICE_BOOK, 0);
  /** The data catalog by `namespace/dataset/partition`. */
  readonly partitions = new Map<string, PartitionRecord>();
  /** Pending task ids, per job in submission order. */
  readonly pending = new PendingQueue();
  /** Why a pending task could not be placed in the last round it was considered. */
  readonly waitingReasons = new Map<string, string>();
  /** Charges of transfers already recorded per active attempt, so a repeated report costs nothing twice. */
  readonly transfersNoted = new Map<string, Set<string>>();
  /** Log bytes stored per active attempt, to enforce the server-side cap. */
  readonly logBytes = new Map<string, number>();
  lastEventSeq = 0;
  lastLogSeq = 0;
}

/** A node as loaded or first seen; one not connected gets `lostDeadline` as its grace. */
export function newLiveNode(record: NodeRecord, connected: boolean, now: number, lostDeadline: number | null = null): LiveNode {
  return {
    record,
    allocatedCpuMillis: 0,
    allocatedMemoryBytes: 0,
    connected,
    // A node loaded from the store keeps its real last-seen time, not the time of loading.
    lastHeartbeatAt: connected ? now : record.lastSeenAt,
    lostDeadline: connected ? null : lostDeadline,
    leaving: false,
    attemptIds: new Set(),
  };
}
