import BetterSqlite3 from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/clock.js';
import { parseNodeSpec } from '../../core/node-spec.js';
import { REDACTED_SECRET } from '../../core/secret-spec.js';
import { generateDataSigningKeys } from '../../protocol/data-token.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { Store } from '../../store/store.js';
import { ControlPlane, type ControlPlaneOptions } from '../control-plane.js';
import { SecretCipher } from './secret-cipher.js';
import { RecordingLink } from '../testing/recording-link.js';

// Job secrets through the real control plane in-process: a real SQLite store on disk, real hot
// state and scheduling loop, agents stood in for by links that record what they are sent. The
// values must reach the assignment of the agent that runs the task, and nothing else: not the
// spec kept or returned, not the database file, not an estimate. They must still be delivered
// after a restart and after the node running the task is lost.

const DB_PASSWORD = 'pw-4f1d9c0e-never-shown';
const TLS_KEY = '-----BEGIN KEY-----\nkey-77a2e3b1-never-shown\n-----END KEY-----\n';
const SPEC = {
  name: 'with-secrets', command: ['true'],
  secrets: { 'db-password': { value: DB_PASSWORD, env: 'DB_PASSWORD' }, 'tls-key': { value: TLS_KEY, file: 'tls.key' } },
};

/** Polls for up to 15 s: a node loss is noticed after a lost-after delay, and a loaded machine runs late. */
async function until<T>(check: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 1500; i += 1) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`test: gave up waiting for ${what}`);
}

describe('job secrets in the control plane', () => {
  const dataKeys = generateDataSigningKeys();
  const dir = mkdtempSync(joinPath(tmpdir(), 'atoll-job-secrets-'));
  let store: Store | undefined;
  let plane: ControlPlane | undefined;
  const warnings: string[] = [];

  afterEach(async () => {
    await plane?.close();
    await store?.close();
    plane = undefined;
    store = undefined;
  });

  async function open(file: string, cipher: SecretCipher, options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
    store ??= openSqliteStore(joinPath(dir, file));
    await store.migrate();
    plane = await ControlPlane.start(store, {
      clock: systemClock, heartbeatMs: 60_000, unreachableAfterMs: 600_000, lostAfterMs: 600_000, restartGraceMs: 600_000,
      maxTasksPerRound: 100, onFatal: (error) => { throw error; }, dataKeys, secrets: cipher, onWarning: (m) => warnings.push(m), ...options,
    });
    return plane;
  }

  async function restart(file: string, cipher: SecretCipher, options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
    await plane!.close();
    return open(file, cipher, options);
  }

  function join(p: ControlPlane, name: string): RecordingLink {
    const link = new RecordingLink();
    p.agentConnected(name, link, { type: 'hello', protocol: 1, agentVersion: 'test', node: parseNodeSpec({ name, cpu: 2, memory: '4Gi' }), running: [], finished: [] });
    return link;
  }

  const expectedSecrets = [
    { name: 'db-password', value: DB_PASSWORD, env: 'DB_PASSWORD' },
    { name: 'tls-key', value: TLS_KEY, file: 'tls.key' },
  ];

  function databaseBytes(file: string): string {
    return readdirSync(dir).filter((f) => f.startsWith(file)).map((f) => readFileSync(joinPath(dir, f)).toString('latin1')).join('');
  }

  it('gives the values to the agent that runs the task only, and keeps only sealed values', async () => {
    const cipher = new SecretCipher(randomBytes(32));
    const p = await open('a.db', cipher);
    const estimate = p.estimateJob(SPEC);
    const view = await p.submitJob(SPEC);
    const link = join(p, 'node-1');
    const [assignment] = await until(() => (link.assignments().length > 0 ? link.assignments() : undefined), 'the run message');
    expect(assignment!.secrets).toEqual(expectedSecrets);

    const redacted = { 'db-password': { value: REDACTED_SECRET, env: 'DB_PASSWORD' }, 'tls-key': { value: REDACTED_SECRET, file: 'tls.key' } };
    expect(view.spec.stages[0]!.secrets).toEqual(redacted);
    expect((await p.jobView(view.id)).spec.stages[0]!.secrets).toEqual(redacted);
    expect((await store!.getJob(view.id))!.spec.stages[0]!.secrets).toEqual(redacted);
    const answers = JSON.stringify([estimate, view, await p.jobView(view.id), await store!.listEvents({ afterSeq: 0, limit: 1000 })]);
    await p.close();
    plane = undefined;
    for (const text of [answers, databaseBytes('a.db')]) {
      expect(text).not.toContain(DB_PASSWORD);
      expect(text).not.toContain('key-77a2e3b1-never-shown');
    }
    // They are in the store, sealed: a fresh control plane over it can still deliver them.
    expect(databaseBytes('a.db')).toContain(`v1:${cipher.keyId}:`);
  });

  it('delivers them after a restart and again after the node running the task is lost', async () => {
    const cipher = new SecretCipher(randomBytes(32));
    // Submitted while no node is there, so the job waits across the restart unplaced.
    const job = await (await open('b.db', cipher)).submitJob(SPEC);
    const p = await restart('b.db', cipher, { lostAfterMs: 20, restartGraceMs: 20 });
    const first = join(p, 'node-1');
    const [assignment] = await until(() => (first.assignments().length > 0 ? first.assignments() : undefined), 'the first run message');
    expect(assignment!.secrets).toEqual(expectedSecrets);

    p.agentDisconnected('node-1', first);
    const second = join(p, 'node-2');
    const [moved] = await until(() => (second.assignments().length > 0 ? second.assignments() : undefined), 'the task to move to node-2');
    expect(moved!.attemptId).not.toBe(assignment!.attemptId);
    expect(moved!.secrets).toEqual(expectedSecrets);
    expect(warnings).toEqual([]);
    expect((await p.jobView(job.id)).state).not.toBe('cancelled');
  });

  it('cancels a job whose secrets no longer open after a restart, saying why, instead of running it without them', async () => {
    const job = await (await open('c.db', new SecretCipher(randomBytes(32)))).submitJob(SPEC);
    const replaced = new SecretCipher(randomBytes(32));
    const p = await restart('c.db', replaced);
    const link = join(p, 'node-1');
    const view = await p.jobView(job.id);
    expect(view.state).toBe('cancelled');
    expect(view.reason).toMatch(new RegExp(`its secrets cannot be opened: .*sealed with key \\w+, but secrets.key is ${replaced.keyId}`));
    expect(warnings.some((w) => w.startsWith(`cancelling job ${job.id}`))).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(link.assignments()).toEqual([]);
  });

  it('gives each stage its own merged secrets, the stage\'s winning over the job\'s', async () => {
    const p = await open('e.db', new SecretCipher(randomBytes(32)));
    const job = await p.submitJob({
      name: 'staged', secrets: { shared: { value: 'shared-value', env: 'SHARED' }, token: { value: 'job-token', env: 'TOKEN' } },
      stages: [
        { name: 'first', command: ['true'] },
        { name: 'second', dependsOn: ['first'], command: ['true'], secrets: { token: { value: 'stage-token', file: 'token' } } },
      ],
    });
    const link = join(p, 'node-1');
    const [first] = await until(() => (link.assignments().length > 0 ? link.assignments() : undefined), 'the first stage');
    expect(first!.secrets).toEqual([{ name: 'shared', value: 'shared-value', env: 'SHARED' }, { name: 'token', value: 'job-token', env: 'TOKEN' }]);
    p.agentMessage('node-1', link, { type: 'attempts.results', results: [{ attemptId: first!.attemptId, epoch: first!.epoch, outcome: 'succeeded', exitCode: 0, reason: null, startedAt: Date.now(), finishedAt: Date.now() }] });
    const [, second] = await until(() => (link.assignments().length > 1 ? link.assignments() : undefined), 'the second stage');
    expect(second!.stage).toBe('second');
    expect(second!.secrets).toEqual([{ name: 'shared', value: 'shared-value', env: 'SHARED' }, { name: 'token', value: 'stage-token', file: 'token' }]);
    expect((await p.jobView(job.id)).spec.stages.map((stage) => Object.values(stage.secrets).map((s) => s.value))).toEqual([[REDACTED_SECRET, REDACTED_SECRET], [REDACTED_SECRET, REDACTED_SECRET]]);
  });

  it('refuses a secret named constructor, delivers oddly named ones, and cancels a job whose sealed value for one is missing', async () => {
    const cipher = new SecretCipher(randomBytes(32));
    const p = await open('f.db', cipher);
    // constructor, __proto__ and prototype are reserved keys in every document (docs/security.md#hostile-input).
    await expect(p.submitJob({ name: 'reserved', command: ['true'], secrets: { constructor: { value: 'c-value', env: 'C' } } })).rejects.toThrow(/secrets\.constructor: "constructor" is a reserved key/);
    const spec = { name: 'odd-names', command: ['true'], secrets: { 'to-string': { value: 't-value', file: 't' }, 'value-of': { value: 'v-value', env: 'V' } } };
    const job = await p.submitJob(spec);
    const link = join(p, 'node-1');
    const [assignment] = await until(() => (link.assignments().length > 0 ? link.assignments() : undefined), 'the run message');
    expect(assignment!.secrets).toEqual([{ name: 'to-string', value: 't-value', file: 't' }, { name: 'value-of', value: 'v-value', env: 'V' }]);
    // The store loses the sealed row of a second job (as a hand-edited database might): it is
    // cancelled at the next start rather than run without its secret.
    const lost = await p.submitJob({ ...spec, name: 'lost-row', placement: { require: [{ key: 'never', operator: 'Exists' }] } });
    await p.close();
    plane = undefined;
    const db = new BetterSqlite3(joinPath(dir, 'f.db'));
    db.prepare('DELETE FROM job_secrets WHERE job_id = ?').run(lost.id);
    db.close();
    const restarted = await open('f.db', cipher);
    expect(await restarted.jobView(lost.id)).toMatchObject({ state: 'cancelled', reason: expect.stringContaining('has no sealed value for secret to-string') });
    expect((await restarted.jobView(job.id)).state).not.toBe('cancelled');
  });

  it('deletes the sealed values once the job is finished', async () => {
    const p = await open('d.db', new SecretCipher(randomBytes(32)));
    const job = await p.submitJob(SPEC);
    const rows = (): number => {
      const db = new BetterSqlite3(joinPath(dir, 'd.db'), { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM job_secrets WHERE job_id = ?').get(job.id) as { n: number }).n;
      } finally {
        db.close();
      }
    };
    expect(rows()).toBe(1);
    const link = join(p, 'node-1');
    const [assignment] = await until(() => (link.assignments().length > 0 ? link.assignments() : undefined), 'the run message');
    p.agentMessage('node-1', link, { type: 'attempts.results', results: [{ attemptId: assignment!.attemptId, epoch: assignment!.epoch, outcome: 'succeeded', exitCode: 0, reason: null, startedAt: Date.now(), finishedAt: Date.now() }] });
    await until(() => (link.sent.some((m) => m.type === 'results.ack') ? true : undefined), 'the result to be committed');
    expect((await p.jobView(job.id)).state).toBe('succeeded');
    expect(rows()).toBe(0);
  });
});
