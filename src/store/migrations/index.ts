import type { Kysely, Migration, MigrationProvider } from 'kysely';
import * as initial from './001-initial.js';
import * as placement from './002-placement.js';
import * as jobPlacement from './003-job-placement.js';
import * as nodeLifecycle from './004-node-lifecycle.js';
import * as dataCatalog from './005-data-catalog.js';
import * as stages from './006-stages.js';
import * as spend from './007-spend.js';
import * as jobHold from './008-job-hold.js';
import * as rolesAudit from './009-roles-audit.js';
import * as nodeIdentity from './010-node-identity.js';
import * as jobSecrets from './011-job-secrets.js';
import * as tokenExpiry from './012-token-expiry.js';

export type SqlDialectName = 'sqlite' | 'postgres';

interface DialectMigration {
  up(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void>;
}

// Listed in code rather than read from a folder, so the compiled package needs no file globbing.
const MIGRATIONS: Readonly<Record<string, DialectMigration>> = {
  '001-initial': initial,
  '002-placement': placement,
  '003-job-placement': jobPlacement,
  '004-node-lifecycle': nodeLifecycle,
  '005-data-catalog': dataCatalog,
  '006-stages': stages,
  '007-spend': spend,
  '008-job-hold': jobHold,
  '009-roles-audit': rolesAudit,
  '010-node-identity': nodeIdentity,
  '011-job-secrets': jobSecrets,
  '012-token-expiry': tokenExpiry,
};

/** Kysely's migrator wants one provider per dialect; each migration learns which dialect it runs on. */
export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, migration] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (db) => migration.up(db, dialect) };
      }
      return out;
    },
  };
}
