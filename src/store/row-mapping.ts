import { partitionId, type PartitionRecord } from '../core/data-spec.js';
import type { JobSpec } from '../core/job-spec.js';
import type { NodeKind } from '../core/node-spec.js';
import type { Taint } from '../core/placement-spec.js';
import type { PolicyRecord, PolicySpec } from '../core/policy-spec.js';
import type { AttemptState, JobState, NodeState, TaskState } from '../core/states.js';
import type { AttemptRecord, EventRecord, EventType, JobRecord, LogChunk, LogStream, NodeRecord, StageRun, TaskRecord } from '../core/types.js';
import type { ChargeRecord } from '../core/spend.js';
import type { AttemptPatch, AuditRecord, JobPatch, JobSecretsRecord, NewAudit, NodePatch, Role, SealedSecrets, SettingRecord, TaskPatch, TokenKind, TokenRecord } from './store.js';
import type { AttemptsTable, AuditTable, ChargesTable, EventsTable, JobSecretsTable, JobsTable, LogsTable, NodesTable, PartitionsTable, PoliciesTable, SettingsTable, TasksTable, TokensTable } from './schema.js';

// Records <-> rows, shared by every SQL store. Only JSON columns and renamed fields need care.

type Row<T> = T;

export function tokenFromRow(row: Row<TokensTable>): TokenRecord {
  return {
    ...row, kind: row.kind as TokenKind, role: row.role as Role | null,
    namespaces: row.namespaces === null ? null : (JSON.parse(row.namespaces) as string[]),
    expiresAt: row.expiresAt === null ? null : Number(row.expiresAt),
  };
}

export function tokenToRow(token: TokenRecord): TokensTable {
  return { ...token, namespaces: token.namespaces === null ? null : JSON.stringify(token.namespaces) };
}

export function auditToRow(entry: NewAudit): Omit<AuditTable, 'seq'> {
  return entry;
}

export function auditFromRow(row: Omit<AuditTable, 'seq'> & { seq: number }): AuditRecord {
  return { ...row, seq: Number(row.seq), time: Number(row.time), actorKind: row.actorKind as AuditRecord['actorKind'], role: row.role as Role | null, outcome: row.outcome as AuditRecord['outcome'] };
}

export function nodeToRow(node: NodeRecord): NodesTable {
  const { capacity, labels, taints, rttMs, usage, cordoned, ...rest } = node;
  return {
    ...rest,
    cordoned: cordoned ? 1 : 0,
    cpuMillis: capacity.cpuMillis,
    memoryBytes: capacity.memoryBytes,
    labels: JSON.stringify(labels),
    taints: JSON.stringify(taints),
    rttMs: JSON.stringify(rttMs),
    usage: JSON.stringify(usage),
  };
}

export function nodePatchToRow(patch: NodePatch): Partial<NodesTable> {
  const { capacity, labels, taints, rttMs, usage, cordoned, ...rest } = patch;
  const row: Partial<NodesTable> = { ...rest };
  if (cordoned !== undefined) row.cordoned = cordoned ? 1 : 0;
  if (capacity) {
    row.cpuMillis = capacity.cpuMillis;
    row.memoryBytes = capacity.memoryBytes;
  }
  if (labels) row.labels = JSON.stringify(labels);
  if (taints) row.taints = JSON.stringify(taints);
  if (rttMs) row.rttMs = JSON.stringify(rttMs);
  if (usage) row.usage = JSON.stringify(usage);
  return row;
}

export function nodeFromRow(row: Row<NodesTable>): NodeRecord {
  const { cpuMillis, memoryBytes, labels, taints, rttMs, usage, cordoned, drainDeadline, ...rest } = row;
  return {
    ...rest,
    cordoned: Number(cordoned) === 1,
    drainDeadline: nullableNumber(drainDeadline),
    kind: rest.kind as NodeKind,
    state: rest.state as NodeState,
    capacity: { cpuMillis: Number(cpuMillis), memoryBytes: Number(memoryBytes) },
    labels: JSON.parse(labels) as Record<string, string>,
    taints: JSON.parse(taints) as Taint[],
    rttMs: JSON.parse(rttMs) as Record<string, number>,
    usage: JSON.parse(usage) as NodeRecord['usage'],
    joinedAt: Number(rest.joinedAt),
    lastSeenAt: Number(rest.lastSeenAt),
  };
}

export function policyToRow(policy: PolicyRecord): PoliciesTable {
  return { name: policy.name, spec: JSON.stringify(policy.spec), createdAt: policy.createdAt, updatedAt: policy.updatedAt };
}

export function policyFromRow(row: Row<PoliciesTable>): PolicyRecord {
  return {
    name: row.name,
    // Stored specs were validated when applied; they are read back as they were written.
    spec: JSON.parse(row.spec) as PolicySpec,
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
  };
}

export function partitionToRow(partition: PartitionRecord): PartitionsTable {
  return { id: partitionId(partition), ...partition };
}

export function partitionFromRow(row: Row<PartitionsTable>): PartitionRecord {
  const { id: _id, ...rest } = row;
  return { ...rest, bytes: Number(rest.bytes), createdAt: Number(rest.createdAt) };
}

export function jobToRow(job: JobRecord): JobsTable {
  return { ...job, spec: JSON.stringify(job.spec), stages: JSON.stringify(job.stages) };
}

export function jobPatchToRow(patch: JobPatch): Partial<JobsTable> {
  const { spec, stages, ...rest } = patch;
  return { ...rest, ...(spec ? { spec: JSON.stringify(spec) } : {}), ...(stages ? { stages: JSON.stringify(stages) } : {}) };
}

export function jobFromRow(row: Row<JobsTable>): JobRecord {
  return {
    ...row,
    state: row.state as JobState,
    spec: JSON.parse(row.spec) as JobSpec,
    stages: JSON.parse(row.stages) as StageRun[],
    createdAt: Number(row.createdAt),
    startedAt: nullableNumber(row.startedAt),
    finishedAt: nullableNumber(row.finishedAt),
  };
}

export function jobSecretsToRow(record: JobSecretsRecord): JobSecretsTable {
  return { jobId: record.jobId, sealed: JSON.stringify(record.sealed) };
}

export function jobSecretsFromRow(row: Row<JobSecretsTable>): JobSecretsRecord {
  return { jobId: row.jobId, sealed: JSON.parse(row.sealed) as SealedSecrets };
}

export function taskToRow(task: TaskRecord): TasksTable {
  const { index, ...rest } = task;
  return { ...rest, idx: index };
}

export function taskPatchToRow(patch: TaskPatch): Partial<TasksTable> {
  const { index, ...rest } = patch;
  return index === undefined ? rest : { ...rest, idx: index };
}

export function taskFromRow(row: Row<TasksTable>): TaskRecord {
  const { idx, ...rest } = row;
  return {
    ...rest,
    index: idx,
    state: rest.state as TaskState,
    notBefore: Number(rest.notBefore),
    createdAt: Number(rest.createdAt),
    startedAt: nullableNumber(rest.startedAt),
    finishedAt: nullableNumber(rest.finishedAt),
  };
}

export function attemptPatchToRow(patch: AttemptPatch): Partial<AttemptsTable> {
  return patch;
}

export function attemptFromRow(row: Row<AttemptsTable>): AttemptRecord {
  return {
    ...row,
    state: row.state as AttemptState,
    createdAt: Number(row.createdAt),
    startedAt: nullableNumber(row.startedAt),
    finishedAt: nullableNumber(row.finishedAt),
  };
}

export function eventFromRow(row: Row<EventsTable>): EventRecord {
  return {
    ...row,
    seq: Number(row.seq),
    time: Number(row.time),
    type: row.type as EventType,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

export function logFromRow(row: Row<LogsTable>): LogChunk {
  return { ...row, seq: Number(row.seq), time: Number(row.time), stream: row.stream as LogStream };
}

function nullableNumber(value: number | null): number | null {
  return value === null ? null : Number(value);
}

export function chargeToRow(charge: ChargeRecord): ChargesTable {
  return { ...charge, waste: charge.waste ? 1 : 0 };
}

export function settingToRow(setting: SettingRecord): SettingsTable {
  return { name: setting.name, value: JSON.stringify(setting.value), updatedAt: setting.updatedAt };
}

export function settingFromRow(row: Row<SettingsTable>): SettingRecord {
  return { name: row.name, value: JSON.parse(row.value) as unknown, updatedAt: Number(row.updatedAt) };
}
