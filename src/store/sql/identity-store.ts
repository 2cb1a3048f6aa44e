import type { Kysely, Selectable } from 'kysely';
import type { IdentityStore, JoinTokenRecord, NodeIdentityRecord } from '../identity-store.js';
import type { Database, JoinTokensTable, NodeIdentitiesTable } from '../schema.js';

/** Join tokens and node identities over Kysely. Writes here are rare (joins, renewals, revocations). */
export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly db: Kysely<Database>) {}

  async addJoinToken(t: JoinTokenRecord): Promise<void> {
    await this.db.insertInto('joinTokens').values({
      id: t.id, hash: t.hash, pool: t.pool, labels: JSON.stringify(t.labels), expiresAt: t.expiresAt, singleUse: t.singleUse ? 1 : 0,
      usedAt: t.usedAt, usedBy: t.usedBy, createdAt: t.createdAt, revokedAt: t.revokedAt,
    }).execute();
  }

  async findJoinToken(hash: string): Promise<JoinTokenRecord | undefined> {
    const row = await this.db.selectFrom('joinTokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row && joinTokenFromRow(row);
  }

  async listJoinTokens(): Promise<readonly JoinTokenRecord[]> {
    return (await this.db.selectFrom('joinTokens').selectAll().orderBy('createdAt').execute()).map(joinTokenFromRow);
  }

  async useJoinToken(id: string, node: string, at: number): Promise<boolean> {
    // The WHERE makes the check and the mark one statement, so two joins cannot both use it.
    const result = await this.db.updateTable('joinTokens').set({ usedAt: at, usedBy: node }).where('id', '=', id).where('usedAt', 'is', null).executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async revokeJoinToken(id: string, at: number): Promise<JoinTokenRecord | undefined> {
    await this.db.updateTable('joinTokens').set({ revokedAt: at }).where('id', '=', id).where('revokedAt', 'is', null).execute();
    const row = await this.db.selectFrom('joinTokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row && joinTokenFromRow(row);
  }

  async putIdentity(i: NodeIdentityRecord): Promise<void> {
    const row = {
      node: i.node, tokenId: i.tokenId, pool: i.pool, labels: i.labels === null ? null : JSON.stringify(i.labels),
      serial: i.serial, notAfter: i.notAfter, joinedAt: i.joinedAt, revokedAt: i.revokedAt,
    };
    await this.db.insertInto('nodeIdentities').values(row).onConflict((oc) => oc.column('node').doUpdateSet(row)).execute();
  }

  async getIdentity(node: string): Promise<NodeIdentityRecord | undefined> {
    const row = await this.db.selectFrom('nodeIdentities').selectAll().where('node', '=', node).executeTakeFirst();
    return row && identityFromRow(row);
  }

  async listIdentities(): Promise<readonly NodeIdentityRecord[]> {
    return (await this.db.selectFrom('nodeIdentities').selectAll().orderBy('node').execute()).map(identityFromRow);
  }
}

function joinTokenFromRow(r: Selectable<JoinTokensTable>): JoinTokenRecord {
  return {
    id: r.id, hash: r.hash, pool: r.pool, labels: JSON.parse(r.labels) as Record<string, string>, expiresAt: num(r.expiresAt),
    singleUse: r.singleUse === 1, usedAt: num(r.usedAt), usedBy: r.usedBy, createdAt: Number(r.createdAt), revokedAt: num(r.revokedAt),
  };
}

function identityFromRow(r: Selectable<NodeIdentitiesTable>): NodeIdentityRecord {
  return {
    node: r.node, tokenId: r.tokenId, pool: r.pool, labels: r.labels === null ? null : (JSON.parse(r.labels) as Record<string, string>),
    serial: r.serial, notAfter: num(r.notAfter), joinedAt: Number(r.joinedAt), revokedAt: num(r.revokedAt),
  };
}

/** bigint columns may come back as bigint from some drivers. */
function num(value: number | null): number | null {
  return value === null ? null : Number(value);
}
