import BetterSqlite3 from 'better-sqlite3';
import { CamelCasePlugin, Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../schema.js';
import { SqlStore } from '../sql/sql-store.js';
import type { WriteBatch } from '../store.js';
import { SqliteBatchWriter } from './sqlite-batch-writer.js';

/** Statements kept prepared; Kysely asks for a fresh one per query, and preparing is the costly part. */
const STATEMENT_CACHE_SIZE = 256;

/** Opens (creating if needed) a SQLite database in WAL mode. `:memory:` works for tests. */
export function openSqliteStore(path: string): SqlStore {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before the API answers, even if the machine loses power.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const cache = new Map<string, BetterSqlite3.Statement>();
  const database = {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (!statement) {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }), plugins: [new CamelCasePlugin()] });
  return new SqliteStore(db, new SqliteBatchWriter(sqlite));
}

/** SqlStore with SQLite's synchronous batch writer on the hot path. */
class SqliteStore extends SqlStore {
  constructor(
    db: Kysely<Database>,
    private readonly writer: SqliteBatchWriter,
  ) {
    super(db, 'sqlite');
  }

  override async write(batch: WriteBatch): Promise<void> {
    this.writer.write(batch);
  }
}
