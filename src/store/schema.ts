import type { Generated } from 'kysely';

// Table shapes as Kysely sees them (camelCase; CamelCasePlugin maps to snake_case columns).
// JSON columns hold text; the store encodes and decodes them at its edge.

export interface TokensTable {
  id: string;
  kind: string;
  hash: string;
  node: string | null;
  createdAt: number;
  revokedAt: number | null;
  role: string | null;
  /** JSON array of namespace names; null: every namespace. */
  namespaces: string | null;
  name: string | null;
  expiresAt: number | null;
  parentId: string | null;
}

export interface AuditTable {
  seq: Generated<number>;
  time: number;
  actor: string;
  actorKind: string;
  role: string | null;
  action: string;
  target: string | null;
  namespace: string | null;
  outcome: string;
  status: number;
  reason: string | null;
  remote: string | null;
}

export interface NodesTable {
  name: string;
  provider: string;
  region: string;
  zone: string;
  site: string;
  kind: string;
  jurisdiction: string | null;
  lat: number | null;
  lon: number | null;
  cpuMillis: number;
  memoryBytes: number;
  priceHour: number;
  labels: string;
  /** JSON list of taints. */
  taints: string;
  /** JSON object: region name -> ms. */
  rttMs: string;
  state: string;
  /** 0 or 1: no new work while 1 (SQLite has no boolean). */
  cordoned: number;
  drainDeadline: number | null;
  dataUrl: string | null;
  agentVersion: string;
  joinedAt: number;
  lastSeenAt: number;
  usage: string;
}

export interface JobsTable {
  id: string;
  name: string;
  namespace: string;
  state: string;
  spec: string;
  taskCount: number;
  /** StageRun[] as JSON. */
  stages: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  reason: string | null;
  heldBy: string | null;
}

export interface JobSecretsTable {
  jobId: string;
  /** SealedSecrets as JSON: per stage, secret name -> sealed value. */
  sealed: string;
}

export interface TasksTable {
  id: string;
  jobId: string;
  idx: number;
  stage: number;
  state: string;
  node: string | null;
  attempts: number;
  failures: number;
  losses: number;
  currentAttemptId: string | null;
  epoch: number;
  exitCode: number | null;
  reason: string | null;
  notBefore: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface AttemptsTable {
  id: string;
  taskId: string;
  jobId: string;
  epoch: number;
  node: string;
  state: string;
  exitCode: number | null;
  reason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface EventsTable {
  seq: number;
  time: number;
  type: string;
  jobId: string | null;
  taskId: string | null;
  attemptId: string | null;
  node: string | null;
  data: string;
}

export interface LogsTable {
  seq: number;
  attemptId: string;
  taskId: string;
  stream: string;
  time: number;
  data: string;
}

export interface PoliciesTable {
  name: string;
  /** The normalized policy spec as JSON. */
  spec: string;
  createdAt: number;
  updatedAt: number;
}

export interface PartitionsTable {
  /** namespace/dataset/partition */
  id: string;
  namespace: string;
  dataset: string;
  partition: string;
  node: string;
  bytes: number;
  sha256: string;
  residencyClass: string | null;
  createdBy: string;
  createdAt: number;
}

export interface ChargesTable {
  id: string;
  time: number;
  kind: string;
  namespace: string;
  jobId: string;
  attemptId: string;
  node: string;
  provider: string;
  region: string;
  site: string;
  dollars: number;
  bytes: number;
  runtimeMs: number;
  /** 0 or 1. */
  waste: number;
}

export interface SettingsTable {
  name: string;
  /** JSON. */
  value: string;
  updatedAt: number;
}

export interface JoinTokensTable {
  id: string;
  hash: string;
  pool: string | null;
  /** JSON object. */
  labels: string;
  expiresAt: number | null;
  singleUse: number;
  usedAt: number | null;
  usedBy: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface NodeIdentitiesTable {
  node: string;
  tokenId: string;
  pool: string | null;
  /** JSON object, or null when the node may claim any labels. */
  labels: string | null;
  serial: string | null;
  notAfter: number | null;
  joinedAt: number;
  revokedAt: number | null;
}

export interface Database {
  joinTokens: JoinTokensTable;
  nodeIdentities: NodeIdentitiesTable;
  tokens: TokensTable;
  audit: AuditTable;
  nodes: NodesTable;
  jobs: JobsTable;
  jobSecrets: JobSecretsTable;
  tasks: TasksTable;
  attempts: AttemptsTable;
  events: EventsTable;
  logs: LogsTable;
  policies: PoliciesTable;
  partitions: PartitionsTable;
  charges: ChargesTable;
  settings: SettingsTable;
}
