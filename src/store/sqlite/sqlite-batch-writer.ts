import type BetterSqlite3 from 'better-sqlite3';
import type { WriteBatch } from '../store.js';
import {
  auditToRow,
  chargeToRow,
  tokenToRow,
  partitionToRow,
  settingToRow,
  attemptPatchToRow,
  jobPatchToRow,
  jobSecretsToRow,
  jobToRow,
  nodePatchToRow,
  nodeToRow,
  policyToRow,
  taskPatchToRow,
  taskToRow,
} from '../row-mapping.js';

// Any record or row object; read by key.
type Row = object;
const field = (row: Row, key: string): unknown => (row as Record<string, unknown>)[key];

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The hot write path for SQLite: one synchronous transaction of cached prepared statements.
 * Kysely builds and compiles every statement anew on each call, which cost more than the
 * writes themselves when the control plane commits hundreds of batches a second
 * (bench/dispatch-bench.ts). Reads and migrations still go through Kysely.
 */
export class SqliteBatchWriter {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private readonly apply: (batch: WriteBatch) => void;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.apply = db.transaction((batch: WriteBatch) => this.applyBatch(batch));
  }

  write(batch: WriteBatch): void {
    this.apply(batch);
  }

  private applyBatch(batch: WriteBatch): void {
    for (const { node, at } of batch.revokeNodeTokens ?? []) {
      this.statement('revoke', 'UPDATE tokens SET revoked_at = ? WHERE node = ? AND revoked_at IS NULL').run(at, node);
    }
    for (const token of batch.tokens ?? []) this.insert('tokens', tokenToRow(token));
    for (const { id, at } of batch.revokeTokens ?? []) {
      this.statement('revokeToken', 'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
    }
    for (const entry of batch.audit ?? []) this.insert('audit', auditToRow(entry));
    for (const job of batch.jobs ?? []) this.insert('jobs', jobToRow(job));
    for (const secrets of batch.jobSecrets ?? []) this.insert('job_secrets', jobSecretsToRow(secrets));
    for (const jobId of batch.deletedJobSecrets ?? []) this.statement('deleteJobSecrets', 'DELETE FROM job_secrets WHERE job_id = ?').run(jobId);
    for (const task of batch.tasks ?? []) this.insert('tasks', taskToRow(task));
    for (const attempt of batch.attempts ?? []) this.insert('attempts', attempt);
    for (const patch of batch.jobPatches ?? []) this.update('jobs', 'id', jobPatchToRow(patch));
    for (const patch of batch.taskPatches ?? []) this.update('tasks', 'id', taskPatchToRow(patch));
    for (const patch of batch.attemptPatches ?? []) this.update('attempts', 'id', attemptPatchToRow(patch));
    for (const node of batch.nodes ?? []) this.insert('nodes', nodeToRow(node), 'name');
    for (const patch of batch.nodePatches ?? []) this.update('nodes', 'name', nodePatchToRow(patch));
    for (const policy of batch.policies ?? []) this.insert('policies', policyToRow(policy), 'name');
    for (const name of batch.deletedPolicies ?? []) this.statement('deletePolicy', 'DELETE FROM policies WHERE name = ?').run(name);
    for (const partition of batch.partitions ?? []) this.insert('partitions', partitionToRow(partition), 'id');
    for (const id of batch.deletedPartitions ?? []) this.statement('deletePartition', 'DELETE FROM partitions WHERE id = ?').run(id);
    for (const charge of batch.charges ?? []) this.insert('charges', chargeToRow(charge), 'id');
    for (const attemptId of batch.wastedAttempts ?? []) this.statement('waste', 'UPDATE charges SET waste = 1 WHERE attempt_id = ?').run(attemptId);
    for (const setting of batch.settings ?? []) this.insert('settings', settingToRow(setting), 'name');
    for (const log of batch.logs ?? []) this.insert('logs', log);
    for (const event of batch.events ?? []) this.insert('events', { ...event, data: JSON.stringify(event.data) });
  }

  /** INSERT, or with `upsertKey` INSERT ... ON CONFLICT DO UPDATE of every other column. */
  private insert(table: string, row: Row, upsertKey?: string): void {
    const keys = Object.keys(row);
    const sqlKey = `i:${table}:${upsertKey ?? ''}:${keys.join(',')}`;
    const statement = this.statements.get(sqlKey) ?? this.prepare(sqlKey, () => {
      const columns = keys.map(snake);
      const conflict = upsertKey
        ? ` ON CONFLICT(${snake(upsertKey)}) DO UPDATE SET ${columns.filter((c) => c !== snake(upsertKey)).map((c) => `${c} = excluded.${c}`).join(', ')}`
        : '';
      return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${conflict}`;
    });
    statement.run(...keys.map((k) => field(row, k)));
  }

  private update(table: string, idColumn: string, patch: Row): void {
    const keys = Object.keys(patch).filter((k) => k !== idColumn && field(patch, k) !== undefined);
    if (keys.length === 0) return;
    const sqlKey = `u:${table}:${keys.join(',')}`;
    const statement = this.statements.get(sqlKey) ??
      this.prepare(sqlKey, () => `UPDATE ${table} SET ${keys.map((k) => `${snake(k)} = ?`).join(', ')} WHERE ${snake(idColumn)} = ?`);
    statement.run(...keys.map((k) => field(patch, k)), field(patch, idColumn));
  }

  private statement(key: string, sql: string): BetterSqlite3.Statement {
    return this.statements.get(key) ?? this.prepare(key, () => sql);
  }

  private prepare(key: string, sql: () => string): BetterSqlite3.Statement {
    const statement = this.db.prepare(sql());
    this.statements.set(key, statement);
    return statement;
  }
}
