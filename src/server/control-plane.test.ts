import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../core/clock.js';
import { AtollError } from '../core/errors.js';
import { parseNodeSpec, type NodeSpecInput } from '../core/node-spec.js';
import type { JobView } from '../core/types.js';
import { generateDataSigningKeys } from '../protocol/data-token.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { ControlPlane, rttMovedEnough } from './control-plane.js';
import { SecretCipher } from './secrets/secret-cipher.js';
import { RecordingLink } from './testing/recording-link.js';

// The control plane's policy commands in-process: a real store (SQLite in memory), real hot
// state and scheduling loop, and agents stood in for by links that record what they are sent.

const MINUTE = 60_000;
const dataKeys = generateDataSigningKeys();
const secrets = new SecretCipher(randomBytes(32));

// Lets a test make the plan check fail, as it would on an engine bug; otherwise the real check runs.
const planCheck = vi.hoisted(() => ({ failuresLeft: 0 }));
vi.mock('../scheduler/engine.js', async (importOriginal) => {
  const engine = await importOriginal<typeof import('../scheduler/engine.js')>();
  return {
    ...engine,
    verifyPlan: (...args: Parameters<typeof engine.verifyPlan>) => {
      if (planCheck.failuresLeft > 0) {
        planCheck.failuresLeft -= 1;
        throw new Error('placement plan breaks a hard rule (test)');
      }
      engine.verifyPlan(...args);
    },
  };
});

interface Fixture {
  readonly plane: ControlPlane;
  readonly store: Store;
  readonly links: Map<string, RecordingLink>;
  readonly fatal: unknown[];
}

async function openPlane(): Promise<Fixture> {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const fatal: unknown[] = [];
  const plane = await ControlPlane.start(store, {
    clock: systemClock, heartbeatMs: MINUTE, unreachableAfterMs: 10 * MINUTE, lostAfterMs: 10 * MINUTE,
    restartGraceMs: 10 * MINUTE, maxTasksPerRound: 2000, onFatal: (error) => fatal.push(error), dataKeys, secrets,
  });
  return { plane, store, links: new Map(), fatal };
}

function join(f: Fixture, spec: Partial<NodeSpecInput> & { name: string }): void {
  const link = new RecordingLink();
  f.links.set(spec.name, link);
  const node = parseNodeSpec({ cpu: 2, memory: '4Gi', ...spec });
  f.plane.agentConnected(spec.name, link, { type: 'hello', protocol: 1, agentVersion: 'test', node, running: [], finished: [] });
}

async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`test: gave up waiting for ${what}`);
}

async function taskState(f: Fixture, taskId: string, state: string): Promise<void> {
  await until(async () => ((await f.store.getTask(taskId))?.state === state ? true : undefined), `${taskId} to be ${state}`);
}

const FINANCE_NO_US = { name: 'finance', namespaces: ['finance'], denyJurisdictions: ['US'] };

describe('ControlPlane policies', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await openPlane();
    join(f, { name: 'us-1', provider: 'aws', region: 'us-east-1', jurisdiction: 'US' });
    join(f, { name: 'de-1', provider: 'hetzner', region: 'fsn1', jurisdiction: 'DE' });
  });

  afterEach(async () => {
    await f.plane.close();
    await f.store.close();
    expect(f.fatal).toEqual([]);
  });

  const submit = (spec: Record<string, unknown>): Promise<JobView> => f.plane.submitJob({ command: ['true'], ...spec });

  describe('data reports', () => {
    it('catalogues only partitions a request or grant of this node asked for, with the class checked then', async () => {
      await f.plane.applyPolicy({ name: 'gdpr', residencyClasses: { 'eu-personal': ['EU'] } });
      const registered = f.plane.data.register({ dataset: 'readings', partition: 'berlin', node: 'de-1', path: '/data/berlin.csv', residencyClass: 'eu-personal' });
      const ask = f.links.get('de-1')!.sent.find((m) => m.type === 'data.register');
      if (ask?.type !== 'data.register') throw new Error('test: no register request sent');
      const stored = { namespace: 'default', dataset: 'readings', sha256: 'a'.repeat(64), bytes: 10, createdBy: 'register' } as const;
      // Another node answering the request, and a report nobody asked for (dropping the class), are ignored.
      f.plane.agentMessage('us-1', f.links.get('us-1')!, { type: 'data.stored', ...stored, requestId: ask.requestId, partition: 'berlin', residencyClass: null });
      f.plane.agentMessage('us-1', f.links.get('us-1')!, { type: 'data.stored', ...stored, partition: 'berlin', residencyClass: null });
      f.plane.agentMessage('de-1', f.links.get('de-1')!, { type: 'data.stored', ...stored, requestId: ask.requestId, partition: 'berlin', residencyClass: null });
      expect(await registered).toMatchObject({ node: 'de-1', residencyClass: 'eu-personal' });
      expect(f.plane.data.dataset('default', 'readings').items).toEqual([expect.objectContaining({ node: 'de-1', residencyClass: 'eu-personal' })]);
      const ignored = (await f.store.listEvents({ afterSeq: 0, limit: 1000 })).filter((e) => e.type === 'partition.report_ignored');
      expect(ignored.map((e) => e.node)).toEqual(['us-1', 'us-1']);
    });

    it('records and charges a transfer only for an input the attempt was given, from its holder at its size, and only once', async () => {
      const registered = f.plane.data.register({ dataset: 'readings', partition: 'fra', node: 'de-1', path: '/data/fra.csv' });
      const ask = f.links.get('de-1')!.sent.find((m) => m.type === 'data.register');
      if (ask?.type !== 'data.register') throw new Error('test: no register request sent');
      f.plane.agentMessage('de-1', f.links.get('de-1')!, { type: 'data.stored', requestId: ask.requestId, namespace: 'default', dataset: 'readings', partition: 'fra', sha256: 'b'.repeat(64), bytes: 2_000_000_000, residencyClass: null, createdBy: 'register' });
      await registered;
      const job = await submit({ name: 'reader', inputs: [{ dataset: 'readings', partitions: ['fra'] }], placement: { residency: ['US'] } });
      await taskState(f, `${job.id}.0`, 'assigned');
      const attemptId = `${job.id}.0.1`;
      const report = { type: 'data.transferred', namespace: 'default', dataset: 'readings', partition: 'fra', attemptId, from: 'de-1', bytes: 2_000_000_000, durationMs: 5 } as const;
      const us = f.links.get('us-1')!;
      f.plane.agentMessage('us-1', us, { ...report, partition: 'other' });
      f.plane.agentMessage('us-1', us, { ...report, bytes: 9 });
      f.plane.agentMessage('us-1', us, { ...report, from: 'us-1' });
      f.plane.agentMessage('us-1', us, report);
      f.plane.agentMessage('us-1', us, report);
      await until(async () => ((await f.store.sumSpend({ jobId: job.id })).length > 0 ? true : undefined), 'the transfer charge');
      // 2 GB from a hetzner node to an aws node: the list price to another provider, $0.09/GB.
      expect(await f.store.sumSpend({ jobId: job.id })).toEqual([{ key: '', compute: 0, transfer: 0.18, total: 0.18, waste: 0, transferBytes: 2_000_000_000 }]);
      const events = await f.store.listEvents({ afterSeq: 0, limit: 1000 });
      expect(events.filter((e) => e.type === 'transfer.completed')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'partition.report_ignored' && e.node === 'us-1')).toHaveLength(3);
    });
  });

  describe('impact', () => {
    it('reports jobs only the change leaves without a node, and attempts on nodes it denies', async () => {
      const onUs = await submit({ name: 'on-us', namespace: 'finance', placement: { residency: ['US'] } });
      await taskState(f, `${onUs.id}.0`, 'assigned');
      const big = await submit({ name: 'big', namespace: 'finance', tasks: 3, resources: { cpu: 64 }, placement: { residency: ['US'] } });
      // Still has the German node after the change.
      const anywhere = await submit({ name: 'anywhere', namespace: 'finance', resources: { cpu: 64 } });
      // Not bound by the policy.
      const other = await submit({ name: 'other', namespace: 'default', resources: { cpu: 64 }, placement: { residency: ['US'] } });
      // Unplaceable today for another hard rule: not the change's doing.
      const nowhere = await submit({ name: 'nowhere', namespace: 'finance', resources: { cpu: 64 }, placement: { residency: ['FR'] } });
      await taskState(f, `${big.id}.0`, 'pending');

      const result = await f.plane.applyPolicy(FINANCE_NO_US, { dryRun: true });
      expect(result.impact.blockedJobs).toEqual([{ jobId: big.id, name: 'big', namespace: 'finance', pendingTasks: 3, reason: 'denied by policy finance' }]);
      expect(result.impact.runningOnDeniedNodes).toEqual([
        { jobId: onUs.id, taskId: `${onUs.id}.0`, attemptId: `${onUs.id}.0.1`, node: 'us-1', reason: expect.stringContaining('policy "finance"') },
      ]);
      const mentioned = JSON.stringify(result.impact);
      for (const job of [anywhere, other, nowhere]) expect(mentioned).not.toContain(job.id);
      expect(result.message).toMatch(/^dry run: policy "finance" would be created; it blocks 1 queued job.*1 attempt already on nodes it denies keep running/);
    });

    it('reports jobs whose input data a changed residency class would keep off every node', async () => {
      await f.plane.applyPolicy({ name: 'gdpr', residencyClasses: { 'eu-personal': ['EU'] } });
      // The German node's agent registers a partition of class eu-personal when asked to.
      const registered = f.plane.data.register({ dataset: 'readings', partition: 'berlin', node: 'de-1', path: '/data/berlin.csv', residencyClass: 'eu-personal' });
      const ask = f.links.get('de-1')!.sent.find((m) => m.type === 'data.register');
      if (ask?.type !== 'data.register') throw new Error('test: no register request sent');
      f.plane.agentMessage('de-1', f.links.get('de-1')!, {
        type: 'data.stored', requestId: ask.requestId, namespace: 'default', dataset: 'readings', partition: 'berlin', sha256: 'a'.repeat(64), bytes: 10, residencyClass: 'eu-personal', createdBy: 'register',
      });
      expect(await registered).toMatchObject({ node: 'de-1', residencyClass: 'eu-personal' });
      const reader = await submit({ name: 'reader', resources: { cpu: 64 }, inputs: [{ dataset: 'readings' }] });
      await taskState(f, `${reader.id}.0`, 'pending');
      const result = await f.plane.applyPolicy({ name: 'gdpr', residencyClasses: { 'eu-personal': ['FR'] } }, { dryRun: true });
      expect(result.impact.blockedJobs).toEqual([{ jobId: reader.id, name: 'reader', namespace: 'default', pendingTasks: 1, reason: 'data class eu-personal not allowed' }]);
    });

    it('changes nothing on a dry run', async () => {
      const before = (await f.store.listEvents({ afterSeq: 0, limit: 1000 })).length;
      const result = await f.plane.applyPolicy(FINANCE_NO_US, { dryRun: true });
      expect(result).toMatchObject({ dryRun: true, created: true, policy: { name: 'finance' } });
      expect(f.plane.listPolicies()).toEqual([]);
      expect(await f.store.listPolicies()).toEqual([]);
      expect(await f.store.listEvents({ afterSeq: 0, limit: 1000 })).toHaveLength(before);
      expect(() => f.plane.getPolicy('finance')).toThrow('policy "finance" does not exist');
    });

    it('counts attempts on a node that is unreachable right now', async () => {
      const onUs = await submit({ name: 'on-us', namespace: 'finance', placement: { residency: ['US'] } });
      await taskState(f, `${onUs.id}.0`, 'assigned');
      f.plane.agentDisconnected('us-1', f.links.get('us-1')!);
      const result = await f.plane.applyPolicy(FINANCE_NO_US, { dryRun: true });
      expect(result.impact.runningOnDeniedNodes.map((a) => a.attemptId)).toEqual([`${onUs.id}.0.1`]);
    });

    it('reports nothing for a change that loosens, or for attempts a policy in force already denies', async () => {
      const onUs = await submit({ name: 'on-us', namespace: 'finance', placement: { residency: ['US'] } });
      await taskState(f, `${onUs.id}.0`, 'assigned');
      await f.plane.applyPolicy(FINANCE_NO_US);
      const blocked = await submit({ name: 'blocked', namespace: 'finance', resources: { cpu: 64 }, placement: { residency: ['US'] } });
      await taskState(f, `${blocked.id}.0`, 'pending');

      const same = await f.plane.applyPolicy(FINANCE_NO_US, { dryRun: true });
      expect(same).toMatchObject({ created: false, impact: { blockedJobs: [], runningOnDeniedNodes: [] } });
      expect(same.message).toContain('blocks no queued or running work');
      const looser = await f.plane.applyPolicy({ ...FINANCE_NO_US, denyJurisdictions: ['CN'] }, { dryRun: true });
      expect(looser.impact).toEqual({ blockedJobs: [], runningOnDeniedNodes: [] });
    });
  });

  describe('apply and delete', () => {
    it('stores a policy, keeps its creation time when replaced, and records each change', async () => {
      const first = await f.plane.applyPolicy(FINANCE_NO_US);
      expect(first).toMatchObject({ dryRun: false, created: true, policy: { name: 'finance', spec: FINANCE_NO_US } });
      expect(await f.store.listPolicies()).toEqual([first.policy]);
      await new Promise((r) => setTimeout(r, 5));
      const second = await f.plane.applyPolicy({ ...FINANCE_NO_US, allowProviders: ['hetzner'] });
      expect(second.created).toBe(false);
      expect(second.policy.createdAt).toBe(first.policy.createdAt);
      expect(second.policy.updatedAt).toBeGreaterThan(first.policy.updatedAt);
      expect(f.plane.getPolicy('finance')).toEqual(second.policy);

      const deleted = await f.plane.deletePolicy('finance');
      expect(deleted.policy).toEqual(second.policy);
      expect(f.plane.listPolicies()).toEqual([]);
      expect(await f.store.listPolicies()).toEqual([]);
      await expect(f.plane.deletePolicy('finance')).rejects.toMatchObject({ code: 'not_found' });
      const events = (await f.store.listEvents({ afterSeq: 0, limit: 1000 })).filter((e) => e.type.startsWith('policy.'));
      expect(events.map((e) => e.type)).toEqual(['policy.applied', 'policy.applied', 'policy.deleted']);
    });

    it('lists policies by name', async () => {
      await f.plane.applyPolicy({ name: 'zeta', denyJurisdictions: ['CN'] });
      await f.plane.applyPolicy({ name: 'alpha', denyJurisdictions: ['RU'] });
      await f.plane.applyPolicy({ name: 'alpha-2', denyJurisdictions: ['KP'] });
      expect(f.plane.listPolicies().map((p) => p.name)).toEqual(['alpha', 'alpha-2', 'zeta']);
      expect((await f.store.listPolicies()).map((p) => p.name)).toEqual(['alpha', 'alpha-2', 'zeta']);
    });

    it('refuses a policy with an unknown jurisdiction, with its path, before anything changes', async () => {
      const error = await f.plane.applyPolicy({ name: 'bad', denyJurisdictions: ['US', 'XX'] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AtollError);
      expect(error).toMatchObject({ code: 'invalid_spec', problems: [{ path: 'denyJurisdictions[1]' }] });
      expect(await f.store.listPolicies()).toEqual([]);
    });

    it('guards jurisdiction groups other policies use, and resolves job specs against the groups in force', async () => {
      await expect(submit({ name: 'early', placement: { residency: ['DACH'] } })).rejects.toMatchObject({
        code: 'invalid_spec', problems: [{ path: 'placement.residency[0]' }],
      });
      await f.plane.applyPolicy({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });
      const accepted = await submit({ name: 'dach', placement: { residency: ['DACH'] } });
      await taskState(f, `${accepted.id}.0`, 'assigned');
      expect((await f.store.getTask(`${accepted.id}.0`))?.node).toBe('de-1');

      await expect(f.plane.applyPolicy({ name: 'clash', jurisdictionGroups: { DACH: ['DE'] } })).rejects.toMatchObject({
        code: 'invalid_spec', problems: [{ path: 'jurisdictionGroups.DACH' }],
      });
      await f.plane.applyPolicy({ name: 'audit', namespaces: ['audit'], denyJurisdictions: ['DACH'] });
      await expect(f.plane.deletePolicy('groups')).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('"audit"') });
      await expect(f.plane.applyPolicy({ name: 'groups', denyJurisdictions: ['KP'] })).rejects.toMatchObject({ code: 'conflict' });
      // A bad policy that also drops the group is still reported as its own problem, with its path.
      await expect(f.plane.applyPolicy({ name: 'groups', denyJurisdictions: ['XX'] })).rejects.toMatchObject({
        code: 'invalid_spec', problems: [{ path: 'denyJurisdictions[0]', message: expect.stringContaining('XX') }],
      });
      expect(f.plane.getPolicy('groups').spec.jurisdictionGroups).toEqual({ DACH: ['DE', 'AT', 'CH'] });

      await f.plane.deletePolicy('audit');
      const removed = await f.plane.deletePolicy('groups');
      expect(removed.policy.name).toBe('groups');
      await expect(submit({ name: 'late', placement: { residency: ['DACH'] } })).rejects.toMatchObject({ code: 'invalid_spec' });
    });

    it('places pending work again once a policy stops denying it', async () => {
      await f.plane.applyPolicy(FINANCE_NO_US);
      const job = await submit({ name: 'to-us', namespace: 'finance', placement: { residency: ['US'] } });
      await until(() => f.plane.waitingReason(`${job.id}.0`), 'a waiting reason');
      expect(f.plane.waitingReason(`${job.id}.0`)).toContain('denied by policy finance');
      const deleted = await f.plane.deletePolicy('finance');
      expect(deleted.impact).toEqual({ blockedJobs: [], runningOnDeniedNodes: [] });
      await taskState(f, `${job.id}.0`, 'assigned');
      expect((await f.store.getTask(`${job.id}.0`))?.node).toBe('us-1');
    });

    it('rebuilds its policies from the store at start', async () => {
      await f.plane.applyPolicy(FINANCE_NO_US);
      await f.plane.applyPolicy({ name: 'groups', jurisdictionGroups: { NORDICS: ['SE', 'NO', 'FI', 'DK'] } });
      const before = f.plane.listPolicies();
      await f.plane.close();
      const restarted = await ControlPlane.start(f.store, {
        clock: systemClock, heartbeatMs: MINUTE, unreachableAfterMs: 10 * MINUTE, lostAfterMs: 10 * MINUTE,
        restartGraceMs: 10 * MINUTE, maxTasksPerRound: 2000, onFatal: (error) => f.fatal.push(error), dataKeys, secrets,
      });
      try {
        expect(restarted.listPolicies()).toEqual(before);
        await expect(restarted.submitJob({ name: 'north', command: ['true'], placement: { residency: ['NORDICS'] } })).resolves.toMatchObject({ name: 'north' });
      } finally {
        await restarted.close();
      }
    });
  });
});

describe('ControlPlane scheduling rounds over many jobs', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await openPlane();
    join(f, { name: 'de-1', provider: 'hetzner', region: 'fsn1', jurisdiction: 'DE', cpu: 4 });
    join(f, { name: 'ie-1', provider: 'aws', region: 'eu-west-1', jurisdiction: 'IE', cpu: 4 });
  });

  afterEach(async () => {
    await f.plane.close();
    await f.store.close();
    expect(f.fatal).toEqual([]);
  });

  // A round looks at 16 jobs at most; the rest must get the following rounds.
  it('places the tasks of more jobs than one round looks at', async () => {
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => f.plane.submitJob({ name: `j${i}`, command: ['true'], resources: { cpu: '100m' } })));
    for (const job of jobs) await taskState(f, `${job.id}.0`, 'assigned');
  });

  it('commits nothing from a round whose plan fails the check, says so, and places the work once a round succeeds', async () => {
    planCheck.failuresLeft = 1;
    const events: string[] = [];
    const unsubscribe = f.plane.bus.onEvents((batch) => events.push(...batch.map((e) => e.type)));
    const job = await f.plane.submitJob({ name: 'checked', command: ['true'] });
    await until(() => (events.includes('scheduler.error') ? true : undefined), 'a scheduler.error event');
    expect(await f.store.getTask(`${job.id}.0`)).toMatchObject({ state: 'pending', node: null });
    expect([...f.links.values()].flatMap((l) => l.sent).filter((m) => m.type === 'attempts.run')).toEqual([]);
    // The retry comes after the back-off (1 s), with the real check.
    await taskState(f, `${job.id}.0`, 'assigned');
    expect(planCheck.failuresLeft).toBe(0);
    unsubscribe();
  });

  it('tells every waiting job why, not only the first round’s', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => f.plane.submitJob({ name: `jp${i}`, command: ['true'], placement: { residency: ['JP'] } })),
    );
    for (const job of jobs) {
      await until(() => f.plane.waitingReason(`${job.id}.0`), `a reason for ${job.id}.0`);
      expect(f.plane.waitingReason(`${job.id}.0`)).toBe('0/2 nodes fit: 2 jurisdiction not in [JP]');
    }
  });
});

describe('ControlPlane round trips from heartbeats', () => {
  let f: Fixture;
  const usage = { runningAttempts: 0, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 };
  const beat = (rttMs?: Record<string, number>) =>
    f.plane.agentMessage('edge-1', f.links.get('edge-1')!, { type: 'heartbeat', usage, ...(rttMs === undefined ? {} : { rttMs }) });
  const stored = async () => (await f.store.getNode('edge-1'))?.rttMs;

  beforeEach(async () => {
    f = await openPlane();
    join(f, { name: 'edge-1', region: 'paris', rttMs: { 'eu-west-3': 10 } });
  });

  afterEach(async () => {
    await f.plane.close();
    await f.store.close();
    expect(f.fatal).toEqual([]);
  });

  it('keeps the record on jitter, replaces and stores it on a real change', async () => {
    const joined = f.plane.getNode('edge-1').rttMs;
    beat({ 'eu-west-3': 10.9 });
    beat();
    // Same object: the scheduler, which compares by identity, sees an unchanged fleet.
    expect(f.plane.getNode('edge-1').rttMs).toBe(joined);

    beat({ 'eu-west-3': 12.5 });
    expect(f.plane.getNode('edge-1').rttMs).toEqual({ 'eu-west-3': 12.5 });
    await until(async () => ((await stored())?.['eu-west-3'] === 12.5 ? true : undefined), 'the new round trip in the store');

    beat({ 'eu-west-3': 12.5, 'us-east-1': 80 });
    expect(f.plane.getNode('edge-1').rttMs).toEqual({ 'eu-west-3': 12.5, 'us-east-1': 80 });
    beat({ 'us-east-1': 80 });
    expect(f.plane.getNode('edge-1').rttMs).toEqual({ 'us-east-1': 80 });
    await until(async () => (JSON.stringify(await stored()) === '{"us-east-1":80}' ? true : undefined), 'the dropped region gone from the store');
  });

  it.each<{ name: string; recorded: Record<string, number>; reported: Record<string, number>; moved: boolean }>([
    { name: 'identical', recorded: { a: 10 }, reported: { a: 10 }, moved: false },
    { name: 'under 1 ms on a short trip', recorded: { a: 0.2 }, reported: { a: 1.1 }, moved: false },
    { name: 'over 1 ms on a short trip', recorded: { a: 0.2 }, reported: { a: 1.3 }, moved: true },
    { name: 'over 1 ms but under 10% on a long trip', recorded: { a: 100 }, reported: { a: 109 }, moved: false },
    { name: 'over 10% on a long trip', recorded: { a: 100 }, reported: { a: 89 }, moved: true },
    { name: 'a new region', recorded: { a: 1 }, reported: { a: 1, b: 1 }, moved: true },
    { name: 'a region gone', recorded: { a: 1, b: 1 }, reported: { a: 1 }, moved: true },
    { name: 'a region swapped for another', recorded: { a: 1 }, reported: { b: 1 }, moved: true },
    { name: 'nothing to nothing', recorded: {}, reported: {}, moved: false },
  ])('rttMovedEnough: $name', ({ recorded, reported, moved }) => {
    expect(rttMovedEnough(recorded, reported)).toBe(moved);
  });
});

describe('ControlPlane node lifecycle', () => {
  let f: Fixture;

  beforeEach(async () => {
    f = await openPlane();
    join(f, { name: 'a', cpu: 4 });
  });

  afterEach(async () => {
    await f.plane.close();
    await f.store.close();
    expect(f.fatal).toEqual([]);
  });

  const runsSentTo = (node: string) => f.links.get(node)!.sent.flatMap((m) => (m.type === 'attempts.run' ? m.attempts.map((a) => a.attemptId) : []));
  const cancelsSentTo = (node: string) => f.links.get(node)!.sent.flatMap((m) => (m.type === 'attempts.cancel' ? m.attempts.map((a) => a.attemptId) : []));

  it('places nothing on a cordoned node, keeps the cordon across a reconnect, and places again once uncordoned', async () => {
    expect((await f.plane.cordonNode('a')).state).toBe('cordoned');
    const job = await f.plane.submitJob({ name: 'held', command: ['true'] });
    await until(() => f.plane.waitingReason(`${job.id}.0`), 'a waiting reason');
    expect(f.plane.waitingReason(`${job.id}.0`)).toBe('0/1 nodes fit: 1 node cordoned');
    // The agent goes and comes back: the operator's cordon holds.
    f.plane.agentDisconnected('a', f.links.get('a')!);
    expect(f.plane.getNode('a')).toMatchObject({ state: 'unreachable', cordoned: true });
    join(f, { name: 'a', cpu: 4 });
    expect(f.plane.getNode('a').state).toBe('cordoned');
    expect(runsSentTo('a')).toEqual([]);
    expect((await f.plane.uncordonNode('a')).state).toBe('ready');
    await taskState(f, `${job.id}.0`, 'assigned');
  });

  it('drains at once with a zero deadline: the work is stopped on the node and runs elsewhere, with no budget used', async () => {
    const job = await f.plane.submitJob({ name: 'long', tasks: 2, command: ['sleep', '60'], retry: { nodeLosses: 0 } });
    await until(() => (runsSentTo('a').length === 2 ? true : undefined), 'both tasks sent to a');
    join(f, { name: 'b', cpu: 4 });
    const drained = await f.plane.drainNode('a', 0);
    expect(drained).toMatchObject({ name: 'a', cordoned: true, drainDeadline: null, state: 'cordoned' });
    await until(() => (cancelsSentTo('a').length === 2 ? true : undefined), 'a told to stop both attempts');
    await until(() => (runsSentTo('b').length === 2 ? true : undefined), 'both tasks sent to b');
    expect(runsSentTo('b').sort()).toEqual([`${job.id}.0.2`, `${job.id}.1.2`]);
    for (const i of [0, 1]) expect(await f.store.getTask(`${job.id}.${i}`)).toMatchObject({ state: 'assigned', node: 'b', losses: 0, failures: 0 });
    const types = (await f.store.listEvents({ afterSeq: 0, limit: 1000 })).map((e) => e.type);
    expect(types).toContain('node.drain_started');
    expect(types).toContain('node.drained');
  });

  it('lets work finish before the deadline, then completes the drain', async () => {
    const job = await f.plane.submitJob({ name: 'short', command: ['true'] });
    await until(() => (runsSentTo('a').length === 1 ? true : undefined), 'the task sent to a');
    expect((await f.plane.drainNode('a', 60_000)).state).toBe('draining');
    const link = f.links.get('a')!;
    const now = Date.now();
    f.plane.agentMessage('a', link, { type: 'attempts.results', results: [{ attemptId: `${job.id}.0.1`, epoch: 1, outcome: 'succeeded', exitCode: 0, reason: null, startedAt: now, finishedAt: now }] });
    await taskState(f, `${job.id}.0`, 'succeeded');
    await until(() => (f.plane.getNode('a').state === 'cordoned' ? true : undefined), 'the drain to complete');
    expect(cancelsSentTo('a')).toEqual([]);
  });

  it('marks a node that said it is leaving as left when it disconnects, and moves what it did not report at once', async () => {
    const job = await f.plane.submitJob({ name: 'leaver', command: ['sleep', '60'] });
    await until(() => (runsSentTo('a').length === 1 ? true : undefined), 'the task sent to a');
    join(f, { name: 'b', cpu: 4 });
    const link = f.links.get('a')!;
    f.plane.agentMessage('a', link, { type: 'leaving' });
    f.plane.agentDisconnected('a', link);
    expect(f.plane.getNode('a').state).toBe('left');
    await until(() => (runsSentTo('b').length === 1 ? true : undefined), 'the task sent to b');
    expect(await f.store.getTask(`${job.id}.0`)).toMatchObject({ node: 'b', losses: 0 });
  });

  it('refuses to drain an unknown node', async () => {
    await expect(f.plane.drainNode('nope', 0)).rejects.toMatchObject({ code: 'not_found' });
  });
});
