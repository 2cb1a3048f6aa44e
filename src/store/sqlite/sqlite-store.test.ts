import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_LOSSES } from '../../core/job-spec.js';
import { DEFAULT_PLACEMENT } from '../../core/placement-spec.js';
import { requestFromJob } from '../../scheduler/requests.js';
import { upgradeStoredJobSpec } from '../migrations/003-job-placement.js';
import { migrationProvider } from '../migrations/index.js';
import { describeStoreConformance } from '../testing/store-conformance.js';
import { openSqliteStore } from './sqlite-store.js';

describeStoreConformance('sqlite in memory', async () => openSqliteStore(':memory:'));
describeStoreConformance('sqlite on disk (WAL)', async () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'atoll-store-')), 'atoll.db')));

describe('sqlite upgrade from the first schema', () => {
  it('gives nodes stored before taints and round-trip times none of either', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'atoll-upgrade-')), 'atoll.db');
    const old = new BetterSqlite3(path);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: old }) });
    const migrator = new Migrator({ db, provider: migrationProvider('sqlite') });
    const first = await migrator.migrateTo('001-initial');
    expect(first.error).toBeUndefined();
    old
      .prepare(
        `INSERT INTO nodes (name, provider, region, zone, site, kind, jurisdiction, lat, lon, cpu_millis, memory_bytes, price_hour, labels, state, agent_version, joined_at, last_seen_at, usage)
         VALUES ('old-1', 'aws', 'eu-west-1', '', '', 'cloud', 'IE', NULL, NULL, 2000, 1024, 0.1, '{}', 'ready', '0.1.0', 1, 2, '{"runningAttempts":0,"cpuMillis":0,"memoryBytes":0,"loadAvg1":0}')`,
      )
      .run();
    await db.destroy();

    const store = openSqliteStore(path);
    try {
      await store.migrate();
      expect(await store.getNode('old-1')).toMatchObject({ name: 'old-1', taints: [], rttMs: {}, capacity: { cpuMillis: 2000, memoryBytes: 1024 } });
      expect(await store.listPolicies()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('sqlite upgrade of jobs stored before placement', () => {
  it('turns their constraints into placement.require and gives them the default placement', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'atoll-upgrade-')), 'atoll.db');
    const old = new BetterSqlite3(path);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: old }) });
    expect((await new Migrator({ db, provider: migrationProvider('sqlite') }).migrateTo('002-placement')).error).toBeUndefined();
    const constraints = [{ key: 'gpu', operator: 'Exists' }];
    // The normalised shape the first release stored: quantities already in millicores, bytes and ms.
    const oldSpec = { name: 'old-job', namespace: 'default', tasks: 2, command: ['true'], env: {}, resources: { cpu: 100, memory: 67108864 }, constraints, retry: { attempts: 0, backoff: 1000 }, killGrace: 5000 };
    const insert = old.prepare(`INSERT INTO jobs (id, name, namespace, state, spec, task_count, created_at) VALUES (?, ?, 'default', 'queued', ?, 2, 1)`);
    insert.run('job-old', 'old-job', JSON.stringify(oldSpec));
    insert.run('job-plain', 'plain-job', JSON.stringify({ ...oldSpec, name: 'plain-job', constraints: [] }));
    await db.destroy();

    const store = openSqliteStore(path);
    try {
      await store.migrate();
      const upgraded = await store.getJob('job-old');
      // Migration 004 then gives the retry block its node-loss budget, 005 the inputs, 006
      // moves it all into one stage named "main" that started with the job, and 011 gives it no secrets.
      const { name, namespace, constraints: _constraints, ...stage } = oldSpec;
      expect(upgraded!.spec).toEqual({
        name, namespace,
        stages: [{
          ...stage, name: 'main', dependsOn: [], placement: { ...DEFAULT_PLACEMENT, require: constraints }, tolerations: [],
          retry: { ...oldSpec.retry, nodeLosses: DEFAULT_NODE_LOSSES }, inputs: [], secrets: {},
        }],
      });
      expect(upgraded!.spec.stages[0]).not.toHaveProperty('constraints');
      expect(upgraded!.stages).toEqual([{ name: 'main', state: 'running', firstTask: 0, tasks: 2, startedAt: 1, finishedAt: null, reason: null }]);
      // The scheduler reads it without tripping over the old shape.
      expect(requestFromJob(upgraded!, { id: 'job-old.0', stage: 0 }).placement.require).toEqual(constraints);
      expect((await store.getJob('job-plain'))!.spec.stages[0]!.placement).toEqual({ ...DEFAULT_PLACEMENT, require: [] });
    } finally {
      await store.close();
    }
  });

  it('leaves specs already in the new shape alone', () => {
    expect(upgradeStoredJobSpec({ name: 'new', placement: DEFAULT_PLACEMENT, tolerations: [] })).toBeUndefined();
  });
});

describe('sqlite upgrade of jobs stored before secrets', () => {
  it('gives each stage of every stored spec an empty secrets map, and adds the sealed-secrets table', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'atoll-upgrade-')), 'atoll.db');
    const old = new BetterSqlite3(path);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: old }) });
    expect((await new Migrator({ db, provider: migrationProvider('sqlite') }).migrateTo('008-job-hold')).error).toBeUndefined();
    const stage = { name: 'main', dependsOn: [], tasks: 1, command: ['true'], env: {}, resources: { cpu: 100, memory: 67108864 }, placement: DEFAULT_PLACEMENT, tolerations: [], inputs: [], retry: { attempts: 0, backoff: 1000, nodeLosses: DEFAULT_NODE_LOSSES }, killGrace: 5000 };
    const oldSpec = { name: 'old-job', namespace: 'default', stages: [stage, { ...stage, name: 'second', dependsOn: ['main'] }] };
    old.prepare(`INSERT INTO jobs (id, name, namespace, state, spec, task_count, created_at) VALUES ('job-old', 'old-job', 'default', 'running', ?, 1, 1)`).run(JSON.stringify(oldSpec));
    await db.destroy();

    const store = openSqliteStore(path);
    try {
      await store.migrate();
      expect((await store.getJob('job-old'))!.spec.stages.map((s) => s.secrets)).toEqual([{}, {}]);
      expect((await store.loadActiveState()).jobSecrets).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
