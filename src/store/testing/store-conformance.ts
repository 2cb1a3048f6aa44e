import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../core/job-spec.js';
import { parsePolicySpec, type PolicyRecord } from '../../core/policy-spec.js';
import type { ChargeRecord } from '../../core/spend.js';
import type { JobRecord, NodeRecord, TaskRecord } from '../../core/types.js';
import type { Store, TokenRecord } from '../store.js';

// One suite every Store implementation must pass (SQLite now, PostgreSQL later).

const spec = parseJobSpec({ name: 'demo', command: ['true'], tasks: 3 });

function aJob(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id, name: 'demo', namespace: 'default', state: 'pending', spec, taskCount: 3,
    stages: [{ name: 'main', state: 'running', firstTask: 0, tasks: 3, startedAt: 1000, finishedAt: null, reason: null }],
    createdAt: 1000, startedAt: null, finishedAt: null, reason: null, heldBy: null, ...overrides,
  };
}

function aTask(jobId: string, index: number, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: `${jobId}.${index}`, jobId, index, stage: 0, state: 'pending', node: null, attempts: 0, failures: 0, losses: 0,
    currentAttemptId: null, epoch: 0, exitCode: null, reason: null, notBefore: 0, createdAt: 1000,
    startedAt: null, finishedAt: null, ...overrides,
  };
}

function aNode(name: string): NodeRecord {
  return {
    name, provider: 'aws', region: 'eu-west-1', zone: 'eu-west-1a', site: '', kind: 'cloud', jurisdiction: 'IE',
    lat: 53.3, lon: -6.2, capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }, priceHour: 0.17,
    labels: { tier: 'gold' }, taints: [], rttMs: {}, state: 'ready', cordoned: false, drainDeadline: null, dataUrl: null, agentVersion: '0.1.0', joinedAt: 5, lastSeenAt: 6,
    usage: { runningAttempts: 0, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 },
  };
}

function aPolicy(spec: Record<string, unknown>, createdAt = 10, updatedAt = createdAt): PolicyRecord {
  const parsed = parsePolicySpec(spec);
  return { name: parsed.name, spec: parsed, createdAt, updatedAt };
}

export function describeStoreConformance(name: string, open: () => Promise<Store>): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
    });

    it('migrates twice without harm', async () => {
      await store.migrate();
      expect(await store.listNodes()).toEqual([]);
    });

    it('round-trips a job, its tasks and their counts', async () => {
      const job = aJob('demo-1');
      await store.write({ jobs: [job], tasks: [0, 1, 2].map((i) => aTask(job.id, i)) });
      expect(await store.getJob(job.id)).toEqual(job);
      const tasks = await store.listTasks(job.id, {});
      expect(tasks.total).toBe(3);
      expect(tasks.items.map((t) => t.index)).toEqual([0, 1, 2]);
      await store.write({ taskPatches: [{ id: 'demo-1.1', state: 'succeeded', exitCode: 0, finishedAt: 2000 }] });
      const counts = (await store.countTasksByState([job.id])).get(job.id);
      expect(counts).toMatchObject({ pending: 2, succeeded: 1, failed: 0 });
      expect(await store.getTask('demo-1.1')).toMatchObject({ state: 'succeeded', exitCode: 0, finishedAt: 2000, index: 1 });
    });

    it('lists every task state of a job by index, and only that job\'s', async () => {
      const job = aJob('grid-1');
      await store.write({ jobs: [job, aJob('other-1')], tasks: [...[2, 0, 1].map((i) => aTask(job.id, i)), aTask('other-1', 0)] });
      await store.write({ taskPatches: [{ id: 'grid-1.2', state: 'failed', exitCode: 1, finishedAt: 2000 }] });
      expect(await store.listTaskStates(job.id)).toEqual([{ index: 0, state: 'pending' }, { index: 1, state: 'pending' }, { index: 2, state: 'failed' }]);
      expect(await store.listTaskStates('nope')).toEqual([]);
    });

    it('keeps a job held by a budget across loads, and releases it with a patch', async () => {
      const job = aJob('held-1', { heldBy: 'team-budget' });
      await store.write({ jobs: [job] });
      expect((await store.loadActiveState()).jobs).toEqual([job]);
      await store.write({ jobPatches: [{ id: job.id, heldBy: null }] });
      expect((await store.getJob(job.id))?.heldBy).toBeNull();
    });

    it('keeps stage progress on jobs and counts tasks per stage', async () => {
      const stages = [
        { name: 'map', state: 'succeeded', firstTask: 0, tasks: 2, startedAt: 1000, finishedAt: 1500, reason: null },
        { name: 'reduce', state: 'running', firstTask: 2, tasks: 1, startedAt: 1500, finishedAt: null, reason: null },
      ] as const;
      const job = aJob('dag-1', { stages, taskCount: 3 });
      await store.write({ jobs: [job], tasks: [aTask(job.id, 0, { state: 'succeeded' }), aTask(job.id, 1, { state: 'succeeded' }), aTask(job.id, 2, { stage: 1, state: 'running' })] });
      expect((await store.getJob(job.id))?.stages).toEqual(stages);
      expect((await store.getTask('dag-1.2'))?.stage).toBe(1);
      const byStage = (await store.countTasksByStage([job.id, 'none'])).get(job.id)!;
      expect(byStage.map((c) => [c.succeeded, c.running])).toEqual([[2, 0], [0, 1]]);
      expect((await store.countTasksByStage(['none'])).get('none')).toEqual([]);
      const done = { ...stages[1], state: 'succeeded' as const, finishedAt: 2000 };
      await store.write({ jobPatches: [{ id: job.id, stages: [stages[0], done] }] });
      expect((await store.getJob(job.id))?.stages[1]).toEqual(done);
    });

    it('pages and filters listings', async () => {
      const jobs = [aJob('a-1', { createdAt: 1 }), aJob('b-1', { createdAt: 2, namespace: 'team' }), aJob('c-1', { createdAt: 3 })];
      await store.write({ jobs });
      const page = await store.listJobs({ namespace: 'default', limit: 1 });
      expect(page.total).toBe(2);
      expect(page.items.map((j) => j.id)).toEqual(['c-1']);
      const next = await store.listJobs({ namespace: 'default', limit: 1, offset: 1 });
      expect(next.items.map((j) => j.id)).toEqual(['a-1']);
    });

    it('writes a batch atomically: a failing write leaves nothing behind', async () => {
      const job = aJob('dup-1');
      await store.write({ jobs: [job] });
      await expect(store.write({ tasks: [aTask('other', 0)], jobs: [job] })).rejects.toThrow();
      expect(await store.getTask('other.0')).toBeUndefined();
    });

    it('upserts nodes and patches them', async () => {
      await store.write({ nodes: [aNode('n1')] });
      await store.write({ nodes: [{ ...aNode('n1'), region: 'eu-central-1' }] });
      await store.write({ nodePatches: [{ name: 'n1', state: 'unreachable', lastSeenAt: 99 }] });
      const node = await store.getNode('n1');
      expect(node).toMatchObject({ region: 'eu-central-1', state: 'unreachable', lastSeenAt: 99, labels: { tier: 'gold' } });
      expect(node?.capacity).toEqual({ cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    });

    it('round-trips node taints and measured round-trip times, and patches them', async () => {
      const tainted: NodeRecord = {
        ...aNode('edge-1'),
        kind: 'edge',
        taints: [{ key: 'edge' }, { key: 'gpu', value: 'a100' }],
        rttMs: { 'eu-west-1': 12.5, 'us-east-1': 81 },
      };
      await store.write({ nodes: [tainted, aNode('plain-1')] });
      expect(await store.getNode('edge-1')).toEqual(tainted);
      expect(await store.getNode('plain-1')).toMatchObject({ taints: [], rttMs: {} });
      await store.write({ nodePatches: [{ name: 'edge-1', taints: [], rttMs: { 'eu-west-1': 9 } }] });
      expect(await store.getNode('edge-1')).toMatchObject({ taints: [], rttMs: { 'eu-west-1': 9 }, labels: { tier: 'gold' } });
      // An upsert replaces them whole, as it does labels.
      await store.write({ nodes: [{ ...tainted, taints: [{ key: 'spot' }], rttMs: {} }] });
      expect(await store.getNode('edge-1')).toMatchObject({ taints: [{ key: 'spot' }], rttMs: {} });
      expect((await store.loadActiveState()).nodes.find((n) => n.name === 'edge-1')).toMatchObject({ taints: [{ key: 'spot' }] });
    });

    it('stores, replaces, lists and deletes policies', async () => {
      expect(await store.listPolicies()).toEqual([]);
      const gdpr = aPolicy({ name: 'gdpr', residencyClasses: { 'eu-personal': ['EU', 'EEA'] }, jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });
      const finance = aPolicy({ name: 'finance', namespaces: ['finance'], denyJurisdictions: ['US'], allowProviders: ['aws', 'gcp'] }, 20);
      await store.write({ policies: [gdpr, finance] });
      expect(await store.listPolicies()).toEqual([finance, gdpr]);

      const tightened = aPolicy({ name: 'finance', namespaces: ['finance', 'audit'], denyJurisdictions: ['US', 'CN'] }, 20, 30);
      await store.write({ policies: [tightened] });
      const listed = await store.listPolicies();
      expect(listed).toEqual([tightened, gdpr]);
      // Replaced whole: the rule the new version leaves out is gone.
      expect(listed[0]!.spec.allowProviders).toBeUndefined();
      expect((await store.loadActiveState()).policies).toEqual([tightened, gdpr]);

      await store.write({ deletedPolicies: ['finance', 'never-existed'] });
      expect(await store.listPolicies()).toEqual([gdpr]);
    });

    it('deletes a policy upserted in the same batch, and writes policies atomically with the rest', async () => {
      const temp = aPolicy({ name: 'temp', denyJurisdictions: ['RU'] });
      await store.write({ policies: [temp], deletedPolicies: ['temp'] });
      expect(await store.listPolicies()).toEqual([]);
      // Events are written after policies, so a clashing event seq fails the batch after the policy row went in.
      const event = { seq: 1, time: 1, type: 'policy.applied' as const, jobId: null, taskId: null, attemptId: null, node: null, data: { name: 'temp' } };
      await store.write({ events: [event] });
      await expect(store.write({ policies: [temp], events: [event] })).rejects.toThrow();
      expect(await store.listPolicies()).toEqual([]);
    });

    it('stores, replaces, lists and deletes catalog partitions, and loads them with the active state', async () => {
      expect(await store.listPartitions()).toEqual([]);
      const berlin = { namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-1', bytes: 12_345_678_901, sha256: 'a'.repeat(64), residencyClass: 'eu-personal', createdBy: 'register', createdAt: 5 };
      const paris = { ...berlin, partition: 'paris', node: 'edge-2', bytes: 10, sha256: 'b'.repeat(64), residencyClass: null, createdBy: 'upload' };
      const other = { ...paris, namespace: 'finance' };
      await store.write({ partitions: [paris, berlin, other] });
      expect(await store.listPartitions()).toEqual([berlin, paris, other]);
      // Replaced whole by its key: a re-upload moves it to another node with other bytes.
      const moved = { ...paris, node: 'edge-3', bytes: 11, sha256: 'c'.repeat(64) };
      await store.write({ partitions: [moved] });
      expect((await store.loadActiveState()).partitions).toEqual([berlin, moved, other]);
      await store.write({ deletedPartitions: ['default/readings/paris', 'default/never/was'] });
      expect(await store.listPartitions()).toEqual([berlin, other]);
    });

    it('sums charges by group and time, marks an attempt\'s charges as waste, and replaces a charge by id', async () => {
      const charge = (id: string, overrides: Partial<ChargeRecord>): ChargeRecord => ({
        id, time: 1000, kind: 'compute', namespace: 'default', jobId: 'j1', attemptId: 'j1.0.1', node: 'n1', provider: 'aws',
        region: 'eu-west-1', site: '', dollars: 1, bytes: 0, runtimeMs: 60_000, waste: false, ...overrides,
      });
      await store.write({ charges: [
        charge('compute:j1.0.1', { dollars: 0.5 }),
        charge('transfer:j1.0.1:d/p', { kind: 'transfer', dollars: 0.25, bytes: 2_000_000_000, runtimeMs: 0, provider: 'edge', region: 'fr-idf', site: 'paris' }),
        charge('compute:j2.0.1', { jobId: 'j2', attemptId: 'j2.0.1', namespace: 'finance', dollars: 2, time: 5000 }),
      ] });
      expect(await store.sumSpend({})).toEqual([{ key: '', compute: 2.5, transfer: 0.25, total: 2.75, waste: 0, transferBytes: 2_000_000_000 }]);
      expect((await store.sumSpend({}, 'provider')).map((r) => [r.key, r.total])).toEqual([['aws', 2.5], ['edge', 0.25]]);
      expect((await store.sumSpend({ since: 2000 }, 'namespace')).map((r) => [r.key, r.total])).toEqual([['finance', 2]]);
      expect((await store.sumSpend({ jobId: 'j1' }, 'job')).map((r) => [r.key, r.compute, r.transfer])).toEqual([['j1', 0.5, 0.25]]);
      await store.write({ wastedAttempts: ['j1.0.1'] });
      expect((await store.sumSpend({ jobId: 'j1' }))[0]!.waste).toBe(0.75);
      // A charge written again (the same attempt re-priced) replaces the first.
      await store.write({ charges: [charge('compute:j2.0.1', { jobId: 'j2', attemptId: 'j2.0.1', namespace: 'finance', dollars: 3, time: 5000 })] });
      expect((await store.sumSpend({ namespace: 'finance' }))[0]!.total).toBe(3);
      expect(await store.sumSpend({ namespace: 'nobody' })).toEqual([]);
      // By UTC day: 1970-01-01 for the early charges, and two charges on one later day summed.
      const day = 86_400_000;
      await store.write({ charges: [
        charge('compute:j3.0.1', { jobId: 'j3', attemptId: 'j3.0.1', dollars: 4, time: 20_000 * day + 5 }),
        charge('compute:j3.1.1', { jobId: 'j3', attemptId: 'j3.1.1', dollars: 1, time: 20_000 * day + day - 1 }),
      ] });
      expect((await store.sumSpend({}, 'day')).map((r) => [r.key, r.total])).toEqual([['2024-10-04', 5], ['1970-01-01', 3.75]]);
      // Per day within each group: days in order, the larger first within a day.
      expect((await store.sumSpend({}, 'provider', true)).map((r) => [r.day, r.key, r.total])).toEqual([
        ['1970-01-01', 'aws', 3.5], ['1970-01-01', 'edge', 0.25], ['2024-10-04', 'aws', 5],
      ]);
      expect((await store.sumSpend({}, 'provider')).every((r) => r.day === undefined)).toBe(true);
    });

    it('stores and replaces settings by name', async () => {
      expect(await store.getSetting('price-book')).toBeUndefined();
      await store.write({ settings: [{ name: 'price-book', value: { a: 1 }, updatedAt: 10 }] });
      await store.write({ settings: [{ name: 'price-book', value: { a: 2 }, updatedAt: 20 }] });
      expect(await store.getSetting('price-book')).toEqual({ name: 'price-book', value: { a: 2 }, updatedAt: 20 });
    });

    it('lists the newest events in log order when asked for them', async () => {
      await store.write({
        events: [1, 2, 3, 4, 5].map((seq) => ({ seq, time: seq, type: 'job.submitted' as const, jobId: seq % 2 === 0 ? 'even' : 'odd', taskId: null, attemptId: null, node: null, data: {} })),
      });
      expect((await store.listEvents({ afterSeq: 0, limit: 2, newest: true })).map((e) => e.seq)).toEqual([4, 5]);
      expect((await store.listEvents({ afterSeq: 0, limit: 2 })).map((e) => e.seq)).toEqual([1, 2]);
      expect((await store.listEvents({ afterSeq: 0, limit: 2, newest: true, jobId: 'odd' })).map((e) => e.seq)).toEqual([3, 5]);
      expect((await store.listEvents({ afterSeq: 4, limit: 10, newest: true })).map((e) => e.seq)).toEqual([5]);
    });

    it('assigns increasing event sequence numbers and filters by job', async () => {
      await store.write({
        events: [
          { seq: 1, time: 1, type: 'job.submitted', jobId: 'j1', taskId: null, attemptId: null, node: null, data: { tasks: 2 } },
          { seq: 2, time: 2, type: 'job.submitted', jobId: 'j2', taskId: null, attemptId: null, node: null, data: {} },
        ],
      });
      const all = await store.listEvents({ afterSeq: 0, limit: 10 });
      expect(all).toHaveLength(2);
      expect(all[1]!.seq).toBeGreaterThan(all[0]!.seq);
      expect(all[0]!.data).toEqual({ tasks: 2 });
      expect(await store.maxSeqs()).toEqual({ event: 2, log: 0 });
      const forJob2 = await store.listEvents({ afterSeq: 0, limit: 10, jobId: 'j2' });
      expect(forJob2.map((e) => e.jobId)).toEqual(['j2']);
      expect(await store.listEvents({ afterSeq: all[1]!.seq, limit: 10 })).toEqual([]);
      await store.write({
        events: [
          { seq: 3, time: 3, type: 'task.placed', jobId: 'j1', taskId: 'j1.0', attemptId: 'j1.0.1', node: 'n1', data: { epoch: 1 } },
          { seq: 4, time: 4, type: 'attempt.lost', jobId: 'j1', taskId: 'j1.0', attemptId: 'j1.0.1', node: 'n1', data: {} },
          { seq: 5, time: 5, type: 'task.placed', jobId: 'j1', taskId: 'j1.0', attemptId: 'j1.0.2', node: 'n2', data: { epoch: 2 } },
        ],
      });
      expect(await store.latestTaskEvent('j1.0', 'task.placed')).toMatchObject({ seq: 5, node: 'n2', data: { epoch: 2 } });
      expect(await store.latestTaskEvent('j1.1', 'task.placed')).toBeUndefined();
    });

    it('keeps logs in order per attempt', async () => {
      await store.write({
        logs: [
          { seq: 1, attemptId: 'a1', taskId: 't1', stream: 'stdout', time: 1, data: 'one\n' },
          { seq: 2, attemptId: 'a2', taskId: 't2', stream: 'stdout', time: 1, data: 'other\n' },
          { seq: 3, attemptId: 'a1', taskId: 't1', stream: 'stderr', time: 2, data: 'two\n' },
        ],
      });
      const logs = await store.listLogs({ attemptIds: ['a1'], afterSeq: 0, limit: 10 });
      expect(logs.map((l) => l.data)).toEqual(['one\n', 'two\n']);
      expect(logs.map((l) => l.stream)).toEqual(['stdout', 'stderr']);
    });

    it('loads only active jobs, tasks and attempts', async () => {
      await store.write({
        jobs: [aJob('live-1', { state: 'running' }), aJob('done-1', { state: 'succeeded' })],
        tasks: [aTask('live-1', 0, { state: 'running' }), aTask('live-1', 1, { state: 'succeeded' })],
        attempts: [
          { id: 'live-1.0.1', taskId: 'live-1.0', jobId: 'live-1', epoch: 1, node: 'n1', state: 'running', exitCode: null, reason: null, createdAt: 1, startedAt: 2, finishedAt: null },
          { id: 'live-1.1.1', taskId: 'live-1.1', jobId: 'live-1', epoch: 1, node: 'n1', state: 'succeeded', exitCode: 0, reason: null, createdAt: 1, startedAt: 2, finishedAt: 3 },
        ],
      });
      const active = await store.loadActiveState();
      expect(active.jobs.map((j) => j.id)).toEqual(['live-1']);
      expect(active.tasks.map((t) => t.id)).toEqual(['live-1.0']);
      expect(active.attempts.map((a) => a.id)).toEqual(['live-1.0.1']);
    });

    it('keeps sealed job secrets with their job, loads those of active jobs, and deletes them', async () => {
      const sealed = [{ 'db-password': 'v1:k:sealed-a', 'tls-key': 'v1:k:sealed-b' }];
      await store.write({
        jobs: [aJob('live-1', { state: 'running' }), aJob('done-1', { state: 'succeeded' })],
        jobSecrets: [{ jobId: 'live-1', sealed }, { jobId: 'done-1', sealed: [{ other: 'v1:k:sealed-c' }] }],
      });
      expect((await store.loadActiveState()).jobSecrets).toEqual([{ jobId: 'live-1', sealed }]);
      await store.write({ deletedJobSecrets: ['live-1', 'never-had-any'] });
      expect((await store.loadActiveState()).jobSecrets).toEqual([]);
    });

    it('writes and deletes a job\'s secrets in one batch, inserts first', async () => {
      await store.write({ jobs: [aJob('quick-1')], jobSecrets: [{ jobId: 'quick-1', sealed: [{ a: 'v1:k:x' }] }], deletedJobSecrets: ['quick-1'] });
      expect((await store.loadActiveState()).jobSecrets).toEqual([]);
    });

    const aToken = (over: Partial<TokenRecord> & Pick<TokenRecord, 'id' | 'kind' | 'hash'>): TokenRecord => ({
      node: null, createdAt: 1, revokedAt: null, role: null, namespaces: null, name: null, expiresAt: null, parentId: null, ...over,
    });

    it('keeps a token\'s expiry (null: never)', async () => {
      await store.write({ tokens: [aToken({ id: 't-exp', kind: 'api', hash: 'exp', role: 'viewer', expiresAt: 1_800_000_000_000 }), aToken({ id: 't-never', kind: 'api', hash: 'never', role: 'viewer' })] });
      expect((await store.findToken('exp'))?.expiresAt).toBe(1_800_000_000_000);
      expect((await store.findToken('never'))?.expiresAt).toBeNull();
    });

    it('finds tokens by hash only, with their role and namespaces', async () => {
      await store.write({ tokens: [aToken({ id: 't1', kind: 'api', hash: 'abc', role: 'operator', namespaces: ['team-a', 'team-b'], name: 'ci' })] });
      expect(await store.findToken('abc')).toEqual(aToken({ id: 't1', kind: 'api', hash: 'abc', role: 'operator', namespaces: ['team-a', 'team-b'], name: 'ci' }));
      expect(await store.findToken('nope')).toBeUndefined();
      expect(await store.listTokens('api')).toHaveLength(1);
      expect(await store.getToken('t1')).toMatchObject({ role: 'operator', namespaces: ['team-a', 'team-b'] });
      expect(await store.getToken('nope')).toBeUndefined();
    });

    it('revokes an API token by id, once', async () => {
      await store.write({ tokens: [aToken({ id: 't1', kind: 'api', hash: 'a1', role: 'admin' }), aToken({ id: 't2', kind: 'api', hash: 'a2', role: 'viewer' })] });
      await store.write({ revokeTokens: [{ id: 't1', at: 7 }] });
      await store.write({ revokeTokens: [{ id: 't1', at: 9 }] });
      expect(await store.getToken('t1')).toMatchObject({ revokedAt: 7 });
      expect(await store.getToken('t2')).toMatchObject({ revokedAt: null });
    });

    it('revokes a node\'s old credentials when it gets a new one', async () => {
      await store.write({ tokens: [aToken({ id: 'n-old', kind: 'node', hash: 'h1', node: 'edge-1' })] });
      await store.write({
        revokeNodeTokens: [{ node: 'edge-1', at: 5 }],
        tokens: [aToken({ id: 'n-new', kind: 'node', hash: 'h2', node: 'edge-1', createdAt: 5 })],
      });
      expect(await store.findToken('h1')).toMatchObject({ revokedAt: 5 });
      expect(await store.findToken('h2')).toMatchObject({ revokedAt: null });
    });

    it('keeps the audit log in order and filters it', async () => {
      const entry = (time: number, actor: string, outcome: 'ok' | 'denied', namespace: string | null) => ({
        time, actor, actorKind: 'token' as const, role: 'admin' as const, action: 'POST /v1/jobs', target: 'j1', namespace, outcome, status: outcome === 'ok' ? 201 : 403, reason: outcome === 'ok' ? null : 'no', remote: '127.0.0.1',
      });
      await store.write({ audit: [entry(10, 'tok-a', 'ok', 'team-a'), entry(20, 'tok-b', 'denied', 'team-b')] });
      await store.write({ audit: [entry(30, 'tok-a', 'denied', null)] });
      const all = await store.listAudit({});
      expect(all.map((e) => [e.time, e.actor, e.outcome])).toEqual([[10, 'tok-a', 'ok'], [20, 'tok-b', 'denied'], [30, 'tok-a', 'denied']]);
      expect(all[0]).toMatchObject({ actorKind: 'token', role: 'admin', action: 'POST /v1/jobs', target: 'j1', namespace: 'team-a', status: 201, reason: null, remote: '127.0.0.1' });
      expect(all[1]!.seq).toBeGreaterThan(all[0]!.seq);
      expect((await store.listAudit({ afterSeq: all[0]!.seq })).map((e) => e.time)).toEqual([20, 30]);
      expect((await store.listAudit({ actor: 'tok-a' })).map((e) => e.time)).toEqual([10, 30]);
      expect((await store.listAudit({ outcome: 'denied', since: 25 })).map((e) => e.time)).toEqual([30]);
      expect((await store.listAudit({ namespace: 'team-b' })).map((e) => e.time)).toEqual([20]);
      expect((await store.listAudit({ limit: 1 })).map((e) => e.time)).toEqual([10]);
    });

    it('lists jobs of several namespaces', async () => {
      await store.write({ jobs: [aJob('ns-a', { namespace: 'a' }), aJob('ns-b', { namespace: 'b' }), aJob('ns-c', { namespace: 'c' })] });
      expect((await store.listJobs({ namespaces: ['a', 'c'] })).items.map((j) => j.id).sort()).toEqual(['ns-a', 'ns-c']);
      expect((await store.listJobs({ namespaces: [] })).total).toBe(0);
    });
  });
}
