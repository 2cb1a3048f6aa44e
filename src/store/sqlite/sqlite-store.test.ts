import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreConformance } from '../testing/store-conformance.js';
import { openSqliteStore } from './sqlite-store.js';

describeStoreConformance('sqlite in memory', async () => openSqliteStore(':memory:'));
describeStoreConformance('sqlite on disk (WAL)', async () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'atoll-store-')), 'atoll.db')));
