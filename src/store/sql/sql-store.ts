import { type Kysely, Migrator, sql, type Transaction } from 'kysely';
import type { PartitionRecord } from '../../core/data-spec.js';
import type { PolicyRecord } from '../../core/policy-spec.js';
import type { TaskCounts } from '../../core/types.js';
import type { TaskState } from '../../core/states.js';
import { compareSpendRows, DAY_MS, utcDay, type SpendGroup, type SpendRow } from '../../core/spend.js';
import type { EventRecord, EventType, LogChunk, NodeRecord, AttemptRecord, JobRecord, TaskRecord } from '../../core/types.js';
import { migrationProvider, type SqlDialectName } from '../migrations/index.js';
import {
  chargeToRow,
  settingFromRow,
  settingToRow,
  attemptFromRow,
  attemptPatchToRow,
  eventFromRow,
  jobFromRow,
  jobPatchToRow,
  jobSecretsFromRow,
  jobSecretsToRow,
  jobToRow,
  logFromRow,
  nodeFromRow,
  nodePatchToRow,
  nodeToRow,
  partitionFromRow,
  partitionToRow,
  policyFromRow,
  policyToRow,
  taskFromRow,
  taskPatchToRow,
  taskToRow,
  tokenFromRow,
  tokenToRow,
  auditToRow,
  auditFromRow,
} from '../row-mapping.js';
import type { Database } from '../schema.js';
import { SqlIdentityStore } from './identity-store.js';
import {
  emptyCounts,
  sumCounts,
  type ActiveState,
  type SettingRecord,
  type SpendFilter,
  type JobFilter,
  type Listing,
  type Store,
  type TaskFilter,
  type TokenKind,
  type AuditFilter,
  type AuditRecord,
  type TokenRecord,
  type WriteBatch,
} from '../store.js';

/** The charges column each spend grouping sums by. */
const SPEND_COLUMNS: Readonly<Record<Exclude<SpendGroup, 'day'>, 'provider' | 'region' | 'site' | 'namespace' | 'jobId'>> = {
  provider: 'provider', region: 'region', site: 'site', namespace: 'namespace', job: 'jobId',
};

/** Rows per multi-row INSERT: keeps bound parameters well under SQLite's 32,766 limit. */
const INSERT_CHUNK = 500;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 10_000;
const ACTIVE_JOB_STATES = ['pending', 'running'] as const;
const ACTIVE_TASK_STATES = ['pending', 'assigned', 'running'] as const;
const ACTIVE_ATTEMPT_STATES = ['assigned', 'running'] as const;

/** The Store over any Kysely dialect; dialect-specific set-up lives in sqlite/ (and later postgres/). */
export class SqlStore implements Store {
  constructor(
    protected readonly db: Kysely<Database>,
    private readonly dialect: SqlDialectName,
  ) {}

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(`store migration ${failed} failed`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async write(batch: WriteBatch): Promise<void> {
    await this.db.transaction().execute((trx) => applyBatch(trx, batch));
  }

  /** Join tokens and node identities (low-rate writes, so they bypass the batch writer). */
  identities(): SqlIdentityStore {
    return new SqlIdentityStore(this.db);
  }

  async findToken(hash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row && tokenFromRow(row);
  }

  async listTokens(kind: TokenKind): Promise<readonly TokenRecord[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().where('kind', '=', kind).orderBy('createdAt').execute();
    return rows.map(tokenFromRow);
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row && tokenFromRow(row);
  }

  async listAudit(filter: AuditFilter): Promise<readonly AuditRecord[]> {
    let query = this.db.selectFrom('audit').selectAll().where('seq', '>', filter.afterSeq ?? 0);
    if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
    if (filter.namespace !== undefined) query = query.where('namespace', '=', filter.namespace);
    const rows = await query.orderBy('seq').limit(pageLimit(filter.limit)).execute();
    return rows.map(auditFromRow);
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && jobFromRow(row);
  }

  async listJobs(filter: JobFilter): Promise<Listing<JobRecord>> {
    let query = this.db.selectFrom('jobs');
    if (filter.namespace) query = query.where('namespace', '=', filter.namespace);
    if (filter.namespaces) query = filter.namespaces.length === 0 ? query.where(sql<boolean>`1 = 0`) : query.where('namespace', 'in', filter.namespaces);
    if (filter.state) query = query.where('state', '=', filter.state);
    const { total } = await query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('createdAt', 'desc')
      .orderBy('id')
      .limit(pageLimit(filter.limit))
      .offset(filter.offset ?? 0)
      .execute();
    return { items: rows.map(jobFromRow), total: Number(total) };
  }

  async countTasksByState(jobIds: readonly string[]): Promise<ReadonlyMap<string, TaskCounts>> {
    const byStage = await this.countTasksByStage(jobIds);
    return new Map([...byStage].map(([id, stages]) => [id, sumCounts(stages)]));
  }

  async countTasksByStage(jobIds: readonly string[]): Promise<ReadonlyMap<string, readonly TaskCounts[]>> {
    const out = new Map<string, Record<keyof TaskCounts, number>[]>();
    if (jobIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('tasks')
      .select(['jobId', 'stage', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('jobId', 'in', [...jobIds])
      .groupBy(['jobId', 'stage', 'state'])
      .execute();
    for (const id of jobIds) out.set(id, []);
    for (const row of rows) {
      const stages = out.get(row.jobId);
      if (!stages) continue;
      while (stages.length <= row.stage) stages.push({ ...emptyCounts() });
      const counts = stages[row.stage]!;
      if (row.state in counts) counts[row.state as keyof TaskCounts] = Number(row.n);
    }
    return out;
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const row = await this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && taskFromRow(row);
  }

  async listTaskStates(jobId: string): Promise<readonly { readonly index: number; readonly state: TaskState }[]> {
    const rows = await this.db.selectFrom('tasks').select(['idx', 'state']).where('jobId', '=', jobId).orderBy('idx').execute();
    return rows.map((r) => ({ index: Number(r.idx), state: r.state as TaskState }));
  }

  async listTasks(jobId: string, filter: TaskFilter): Promise<Listing<TaskRecord>> {
    let query = this.db.selectFrom('tasks').where('jobId', '=', jobId);
    if (filter.state) query = query.where('state', '=', filter.state);
    const { total } = await query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('idx')
      .limit(pageLimit(filter.limit))
      .offset(filter.offset ?? 0)
      .execute();
    return { items: rows.map(taskFromRow), total: Number(total) };
  }

  async listAttempts(taskId: string): Promise<readonly AttemptRecord[]> {
    const rows = await this.db.selectFrom('attempts').selectAll().where('taskId', '=', taskId).orderBy('epoch').execute();
    return rows.map(attemptFromRow);
  }

  async getNode(name: string): Promise<NodeRecord | undefined> {
    const row = await this.db.selectFrom('nodes').selectAll().where('name', '=', name).executeTakeFirst();
    return row && nodeFromRow(row);
  }

  async listNodes(): Promise<readonly NodeRecord[]> {
    const rows = await this.db.selectFrom('nodes').selectAll().orderBy('name').execute();
    return rows.map(nodeFromRow);
  }

  async listPartitions(): Promise<readonly PartitionRecord[]> {
    const rows = await this.db.selectFrom('partitions').selectAll().orderBy('namespace').orderBy('dataset').orderBy('partition').execute();
    return rows.map(partitionFromRow);
  }

  async listPolicies(): Promise<readonly PolicyRecord[]> {
    const rows = await this.db.selectFrom('policies').selectAll().orderBy('name').execute();
    return rows.map(policyFromRow);
  }

  async listEvents(filter: { afterSeq: number; limit: number; jobId?: string; newest?: boolean }): Promise<readonly EventRecord[]> {
    let query = this.db.selectFrom('events').selectAll().where('seq', '>', filter.afterSeq);
    if (filter.jobId) query = query.where('jobId', '=', filter.jobId);
    const rows = await query.orderBy('seq', filter.newest ? 'desc' : 'asc').limit(pageLimit(filter.limit)).execute();
    if (filter.newest) rows.reverse();
    return rows.map(eventFromRow);
  }

  async latestTaskEvent(taskId: string, type: EventType): Promise<EventRecord | undefined> {
    const row = await this.db
      .selectFrom('events')
      .selectAll()
      .where('taskId', '=', taskId)
      .where('type', '=', type)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && eventFromRow(row);
  }

  async listLogs(filter: { attemptIds: readonly string[]; afterSeq: number; limit: number }): Promise<readonly LogChunk[]> {
    if (filter.attemptIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('logs')
      .selectAll()
      .where('attemptId', 'in', [...filter.attemptIds])
      .where('seq', '>', filter.afterSeq)
      .orderBy('seq')
      .limit(pageLimit(filter.limit))
      .execute();
    return rows.map(logFromRow);
  }

  async getSetting(name: string): Promise<SettingRecord | undefined> {
    const row = await this.db.selectFrom('settings').selectAll().where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : settingFromRow(row);
  }

  async sumSpend(filter: SpendFilter, groupBy?: SpendGroup, perDay = false): Promise<readonly SpendRow[]> {
    let query = this.db.selectFrom('charges');
    if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
    if (filter.namespace !== undefined) query = query.where('namespace', '=', filter.namespace);
    if (filter.jobId !== undefined) query = query.where('jobId', '=', filter.jobId);
    const column = groupBy === undefined || groupBy === 'day' ? undefined : SPEND_COLUMNS[groupBy];
    const rows = await query
      .select((eb) => [
        // By day: whole days since the epoch. The divisor is a literal, not a bound parameter (which
        // better-sqlite3 binds as a float), so the division is an integer one in SQLite and PostgreSQL.
        groupBy === 'day' ? eb(eb.ref('time'), '/', sql.lit(DAY_MS)).as('key') : column === undefined ? eb.val('').as('key') : eb.ref(column).as('key'),
        // Selected only when grouped by (PostgreSQL refuses a bare column outside GROUP BY).
        (perDay ? eb(eb.ref('time'), '/', sql.lit(DAY_MS)) : eb.val(0)).as('dayNumber'),
        eb.fn.sum<number>(eb.case().when('kind', '=', 'compute').then(eb.ref('dollars')).else(0).end()).as('compute'),
        eb.fn.sum<number>(eb.case().when('kind', '=', 'transfer').then(eb.ref('dollars')).else(0).end()).as('transfer'),
        eb.fn.sum<number>(eb.case().when('waste', '=', 1).then(eb.ref('dollars')).else(0).end()).as('waste'),
        eb.fn.sum<number>('bytes').as('transferBytes'),
        eb.fn.countAll<number>().as('charges'),
      ])
      .$if(column !== undefined, (q) => q.groupBy(column!))
      .$if(groupBy === 'day', (q) => q.groupBy(sql.ref('key')))
      .$if(perDay, (q) => q.groupBy(sql.ref('dayNumber')))
      .execute();
    return rows
      .filter((r) => Number(r.charges) > 0)
      .map((r) => {
        const compute = Number(r.compute ?? 0);
        const transfer = Number(r.transfer ?? 0);
        const key = groupBy === 'day' ? dayOf(Number(r.key)) : String(r.key);
        return { key, ...(perDay ? { day: dayOf(Number(r.dayNumber)) } : {}), compute, transfer, total: compute + transfer, waste: Number(r.waste ?? 0), transferBytes: Number(r.transferBytes ?? 0) };
      })
      .sort(compareSpendRows);
  }

  async maxSeqs(): Promise<{ readonly event: number; readonly log: number }> {
    const event = await this.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    const log = await this.db.selectFrom('logs').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    return { event: Number(event?.m ?? 0), log: Number(log?.m ?? 0) };
  }

  async loadActiveState(): Promise<ActiveState> {
    const [jobs, tasks, attempts, nodes, policies, partitions, jobSecrets] = await Promise.all([
      this.db.selectFrom('jobs').selectAll().where('state', 'in', [...ACTIVE_JOB_STATES]).orderBy('createdAt').execute(),
      this.db.selectFrom('tasks').selectAll().where('state', 'in', [...ACTIVE_TASK_STATES]).orderBy('createdAt').orderBy('idx').execute(),
      this.db.selectFrom('attempts').selectAll().where('state', 'in', [...ACTIVE_ATTEMPT_STATES]).execute(),
      this.db.selectFrom('nodes').selectAll().execute(),
      this.listPolicies(),
      this.listPartitions(),
      this.db.selectFrom('jobSecrets').innerJoin('jobs', 'jobs.id', 'jobSecrets.jobId').select(['jobSecrets.jobId', 'jobSecrets.sealed'])
        .where('jobs.state', 'in', [...ACTIVE_JOB_STATES]).execute(),
    ]);
    return {
      jobs: jobs.map(jobFromRow),
      tasks: tasks.map(taskFromRow),
      attempts: attempts.map(attemptFromRow),
      nodes: nodes.map(nodeFromRow),
      policies,
      partitions,
      jobSecrets: jobSecrets.map(jobSecretsFromRow),
    };
  }
}

function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
}

async function insertChunked<T>(rows: readonly T[], insert: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await insert(rows.slice(i, i + INSERT_CHUNK));
}

async function applyBatch(trx: Transaction<Database>, batch: WriteBatch): Promise<void> {
  for (const { node, at } of batch.revokeNodeTokens ?? []) {
    await trx.updateTable('tokens').set({ revokedAt: at }).where('node', '=', node).where('revokedAt', 'is', null).execute();
  }
  if (batch.tokens?.length) await insertChunked(batch.tokens.map(tokenToRow), (c) => trx.insertInto('tokens').values(c).execute());
  for (const { id, at } of batch.revokeTokens ?? []) {
    await trx.updateTable('tokens').set({ revokedAt: at }).where('id', '=', id).where('revokedAt', 'is', null).execute();
  }
  if (batch.audit?.length) await insertChunked(batch.audit.map(auditToRow), (c) => trx.insertInto('audit').values(c).execute());
  if (batch.jobs?.length) await insertChunked(batch.jobs.map(jobToRow), (c) => trx.insertInto('jobs').values(c).execute());
  if (batch.jobSecrets?.length) await insertChunked(batch.jobSecrets.map(jobSecretsToRow), (c) => trx.insertInto('jobSecrets').values(c).execute());
  if (batch.deletedJobSecrets?.length) await trx.deleteFrom('jobSecrets').where('jobId', 'in', [...batch.deletedJobSecrets]).execute();
  if (batch.tasks?.length) await insertChunked(batch.tasks.map(taskToRow), (c) => trx.insertInto('tasks').values(c).execute());
  if (batch.attempts?.length) await insertChunked(batch.attempts, (c) => trx.insertInto('attempts').values(c).execute());
  for (const patch of batch.jobPatches ?? []) {
    await trx.updateTable('jobs').set(jobPatchToRow(patch)).where('id', '=', patch.id).execute();
  }
  for (const patch of batch.taskPatches ?? []) {
    await trx.updateTable('tasks').set(taskPatchToRow(patch)).where('id', '=', patch.id).execute();
  }
  for (const patch of batch.attemptPatches ?? []) {
    await trx.updateTable('attempts').set(attemptPatchToRow(patch)).where('id', '=', patch.id).execute();
  }
  for (const node of batch.nodes ?? []) {
    const row = nodeToRow(node);
    const { name: _name, ...update } = row;
    await trx.insertInto('nodes').values(row).onConflict((oc) => oc.column('name').doUpdateSet(update)).execute();
  }
  for (const patch of batch.nodePatches ?? []) {
    await trx.updateTable('nodes').set(nodePatchToRow(patch)).where('name', '=', patch.name).execute();
  }
  for (const policy of batch.policies ?? []) {
    const row = policyToRow(policy);
    const { name: _name, ...update } = row;
    await trx.insertInto('policies').values(row).onConflict((oc) => oc.column('name').doUpdateSet(update)).execute();
  }
  if (batch.deletedPolicies?.length) await trx.deleteFrom('policies').where('name', 'in', [...batch.deletedPolicies]).execute();
  for (const partition of batch.partitions ?? []) {
    const row = partitionToRow(partition);
    const { id: _id, ...update } = row;
    await trx.insertInto('partitions').values(row).onConflict((oc) => oc.column('id').doUpdateSet(update)).execute();
  }
  if (batch.deletedPartitions?.length) await trx.deleteFrom('partitions').where('id', 'in', [...batch.deletedPartitions]).execute();
  for (const charge of batch.charges ?? []) {
    const row = chargeToRow(charge);
    const { id: _id, ...update } = row;
    await trx.insertInto('charges').values(row).onConflict((oc) => oc.column('id').doUpdateSet(update)).execute();
  }
  if (batch.wastedAttempts?.length) await trx.updateTable('charges').set({ waste: 1 }).where('attemptId', 'in', [...batch.wastedAttempts]).execute();
  for (const setting of batch.settings ?? []) {
    const row = settingToRow(setting);
    const { name: _name, ...update } = row;
    await trx.insertInto('settings').values(row).onConflict((oc) => oc.column('name').doUpdateSet(update)).execute();
  }
  if (batch.logs?.length) await insertChunked(batch.logs, (c) => trx.insertInto('logs').values(c).execute());
  if (batch.events?.length) {
    const rows = batch.events.map((e) => ({ ...e, data: JSON.stringify(e.data) }));
    await insertChunked(rows, (c) => trx.insertInto('events').values(c).execute());
  }
}

/** `YYYY-MM-DD` of a day number (whole UTC days since the epoch). */
function dayOf(dayNumber: number): string {
  return utcDay(dayNumber * DAY_MS);
}
