import { describe, expect, it } from 'vitest';
import { AtollError } from '../core/errors.js';
import { parsePolicySpec } from '../core/policy-spec.js';
import { checkHardRules, type Plan, schedule, verifyPlan } from './engine.js';
import { aNode, aRequest, aSnapshot, type NodeBuilder } from './testing/node-builder.js';

// The default profile end to end: the placement rules users write, against small fleets.

const nodeFor = (plan: Plan, taskId: string) => plan.assignments.find((a) => a.taskId === taskId)?.node ?? null;
const paris = { lat: 48.86, lon: 2.35 };
const singapore = { lat: 1.35, lon: 103.82 };

const frankfurt = () => aNode().named('gcp-fra').locatedAt('gcp', 'europe-west3', 'DE', 50.11, 8.68).withPrice(0.2);
const dublin = () => aNode().named('aws-dub').locatedAt('aws', 'eu-west-1', 'IE', 53.35, -6.26).withPrice(0.19);
const virginia = () => aNode().named('aws-iad').locatedAt('aws', 'us-east-1', 'US', 38.95, -77.45).withPrice(0.19);
const singaporeNode = () => aNode().named('az-sin').locatedAt('azure', 'southeastasia', 'SG', 1.35, 103.82).withPrice(0.4);
const falkenstein = () => aNode().named('hz-fsn').locatedAt('hetzner', 'eu-central', 'DE', 50.48, 12.37).withPrice(0.05);

describe('schedule: hard rules', () => {
  it.each<{ name: string; nodes: NodeBuilder[]; placement?: Parameters<ReturnType<typeof aRequest>['withPlacement']>[0]; expected: string | null }>([
    { name: 'residency EU skips the US node', nodes: [virginia(), dublin().withAllocated(3, 0)], placement: { residency: ['EU'] }, expected: 'aws-dub' },
    { name: 'residency by country code', nodes: [dublin(), frankfurt().withAllocated(3, 0)], placement: { residency: ['DE'] }, expected: 'gcp-fra' },
    { name: 'avoid a provider', nodes: [dublin(), frankfurt().withAllocated(3, 0)], placement: { avoid: { providers: ['aws'] } }, expected: 'gcp-fra' },
    { name: 'avoid a region', nodes: [dublin(), frankfurt().withAllocated(3, 0)], placement: { avoid: { regions: ['eu-west-1'] } }, expected: 'gcp-fra' },
    { name: 'require a label', nodes: [dublin(), frankfurt().withLabels({ gpu: 'a100' }).withAllocated(3, 0)], placement: { require: [{ key: 'gpu', operator: 'Exists' }] }, expected: 'gcp-fra' },
    { name: 'an edge node without toleration', nodes: [aNode().named('shop').ofKind('edge').withTaints({ key: 'edge' })], expected: null },
    { name: 'no EU capacity: waits, never falls back', nodes: [virginia(), singaporeNode(), dublin().withAllocated(4, 0)], placement: { residency: ['EU'] }, expected: null },
  ])('$name', ({ nodes, placement, expected }) => {
    const builder = aRequest().withId('t').withCpu(1);
    const task = (placement === undefined ? builder : builder.withPlacement(placement)).build();
    expect(nodeFor(schedule(aSnapshot(nodes), [task]), 't')).toBe(expected);
  });

  it('runs on an edge node when the job tolerates the taint', () => {
    const task = aRequest().withId('t').tolerating({ key: 'edge' }).build();
    expect(nodeFor(schedule(aSnapshot([aNode().named('shop').ofKind('edge').withTaints({ key: 'edge' })]), [task]), 't')).toBe('shop');
  });

  it('applies a policy only to the namespaces it binds, and a job cannot loosen it', () => {
    const policies = [parsePolicySpec({ name: 'finance-no-us', namespaces: ['finance'], denyJurisdictions: ['US'] })];
    const snapshot = aSnapshot([virginia()], 0, { policies });
    const finance = aRequest().withId('f').inNamespace('finance').withPlacement({ residency: ['US'] }).build();
    const other = aRequest().withId('o').ofJob('other').inNamespace('web').build();
    const plan = schedule(snapshot, [finance, other]);
    expect(nodeFor(plan, 'f')).toBeNull();
    expect(plan.unplaced[0]!.message).toBe('0/1 nodes fit: 1 denied by policy finance-no-us');
    expect(plan.unplaced[0]!.rejected[0]!.message).toBe('policy "finance-no-us" denies US for namespace finance');
    expect(nodeFor(plan, 'o')).toBe('aws-iad');
  });

  it('limits a namespace to the providers a policy allows', () => {
    const policies = [parsePolicySpec({ name: 'own-metal', namespaces: ['batch'], allowProviders: ['hetzner'] })];
    const plan = schedule(aSnapshot([dublin(), falkenstein().withAllocated(3, 0)], 0, { policies }), [aRequest().withId('t').inNamespace('batch').build()]);
    expect(nodeFor(plan, 't')).toBe('hz-fsn');
  });

  it('summarises why a task waits, counting nodes by rule', () => {
    // 40 nodes: 22 outside the EU, 12 in the EU without memory to spare, 6 EU edge boxes.
    const nodes = [
      ...Array.from({ length: 22 }, (_, i) => aNode().named(`us-${i}`).inJurisdiction('US')),
      ...Array.from({ length: 12 }, (_, i) => aNode().named(`eu-${i}`).inJurisdiction('DE').withMemory('8Gi').withAllocated(0, '7Gi')),
      ...Array.from({ length: 6 }, (_, i) => aNode().named(`edge-${i}`).inJurisdiction('FR').ofKind('edge').withTaints({ key: 'edge' })),
    ];
    const task = aRequest().withId('t').withMemory('2Gi').withPlacement({ residency: ['EU'] }).build();
    const plan = schedule(aSnapshot(nodes), [task]);
    expect(plan.unplaced[0]!.message).toBe('0/40 nodes fit: 22 jurisdiction not in [EU], 12 insufficient memory, 6 untolerated taint edge');
    expect(plan.unplaced[0]!.reasons).toEqual({ jurisdiction_not_allowed: 22, untolerated_taint: 6, insufficient_memory: 12 });
  });
});

describe('schedule: objectives', () => {
  // Users in Singapore. A dear node there, a cheap one in Germany, a middling one in between.
  const fleet = () =>
    aSnapshot([
      singaporeNode(),
      falkenstein(),
      aNode().named('mid-bom').locatedAt('aws', 'ap-south-1', 'IN', 19.08, 72.88).withPrice(0.12),
    ]);
  const task = (optimize: 'latency' | 'cost' | 'balanced') => aRequest().withId('t').withPlacement({ optimize, near: { users: [singapore] } }).build();

  it.each([
    ['latency', 'az-sin'],
    ['cost', 'hz-fsn'],
    ['balanced', 'mid-bom'],
  ] as const)('optimize %s picks %s', (optimize, expected) => {
    expect(nodeFor(schedule(fleet(), [task(optimize)]), 't')).toBe(expected);
  });

  it('lets explicit weights override the preset', () => {
    const t = aRequest().withId('t').withPlacement({ optimize: 'latency', near: { users: [singapore] }, weights: { latency: 0, cost: 10 } }).build();
    expect(nodeFor(schedule(fleet(), [t]), 't')).toBe('hz-fsn');
  });

  it('prefers labelled nodes when nothing else differs', () => {
    const nodes = [aNode().named('plain'), aNode().named('ssd').withLabels({ disk: 'ssd' })];
    const t = aRequest().withId('t').withPlacement({ prefer: [{ weight: 10, match: { key: 'disk', operator: 'In', values: ['ssd'] } }] }).build();
    expect(nodeFor(schedule(aSnapshot(nodes), [t]), 't')).toBe('ssd');
  });

  it('explains the choice with measurements in words', () => {
    const plan = schedule(fleet(), [task('latency')]);
    const chosen = plan.assignments[0]!.explanation.chosen;
    const latency = chosen.scores.find((s) => s.plugin === 'latency')!;
    expect(latency).toMatchObject({ normalized: 100, weight: 4 });
    expect(latency.detail).toMatch(/^~\d+(\.\d)? ms mean round trip to 1\.35,103\.82 \(estimated\)$/);
    expect(chosen.scores.find((s) => s.plugin === 'cost')!.detail).toMatch(/^\$0\.0\d{3} compute at \$0\.4\/h$/);
    expect(plan.assignments[0]!.explanation.candidates.map((c) => c.node)).toEqual(['az-sin', 'mid-bom', 'hz-fsn']);
  });

  it('uses a measured round trip over the distance estimate', () => {
    // The agent in Frankfurt measured 3 ms to the users' region; by distance Dublin is no closer.
    const nodes = [dublin(), frankfurt().withRtt({ 'eu-west-3': 3 })];
    const t = aRequest().withId('t').withPlacement({ optimize: 'latency', near: { users: ['eu-west-3'] } }).build();
    expect(nodeFor(schedule(aSnapshot(nodes), [t]), 't')).toBe('gcp-fra');
  });

  it('places near users given by the name of a region the fleet runs in', () => {
    const nodes = [singaporeNode(), dublin(), frankfurt()];
    const t = aRequest().withId('t').withPlacement({ optimize: 'latency', near: { users: ['southeastasia'] } }).build();
    expect(nodeFor(schedule(aSnapshot(nodes), [t]), 't')).toBe('az-sin');
  });

  it('puts work for users in Paris in Frankfurt rather than Dublin or Virginia', () => {
    const t = aRequest().withId('t').withPlacement({ optimize: 'latency', near: { users: [paris] } }).build();
    expect(nodeFor(schedule(aSnapshot([dublin(), frankfurt(), virginia()]), [t]), 't')).toBe('gcp-fra');
  });
});

describe('defence in depth', () => {
  const snapshot = aSnapshot([virginia(), dublin().withCpu(1)]);
  const euTask = aRequest().withId('t').withCpu(1).withPlacement({ residency: ['EU'] }).build();

  it('accepts the plans the engine makes', () => {
    const requests = [euTask, aRequest().withId('u').withCpu(1).build()];
    expect(() => verifyPlan(snapshot, requests, schedule(snapshot, requests))).not.toThrow();
  });

  it('fails loudly on a plan that breaks residency', () => {
    const plan = schedule(snapshot, [euTask]);
    const tampered: Plan = { ...plan, assignments: [{ ...plan.assignments[0]!, node: 'aws-iad' }] };
    expect(() => verifyPlan(snapshot, [euTask], tampered)).toThrow(AtollError);
    expect(() => verifyPlan(snapshot, [euTask], tampered)).toThrow(/scheduler bug: plan puts t on aws-iad, which residency rejects/);
  });

  it('fails loudly on a plan that overfills a node', () => {
    const second = aRequest().withId('u').withCpu(1).withPlacement({ residency: ['EU'] }).build();
    const plan = schedule(snapshot, [euTask]);
    const tampered: Plan = { ...plan, assignments: [...plan.assignments, { ...plan.assignments[0]!, taskId: 'u' }] };
    expect(() => verifyPlan(snapshot, [euTask, second], tampered)).toThrow(/resource-fit rejects/);
  });

  it('checks the hard rules of one task on one node, capacity aside', () => {
    const full = dublin().withAllocated(4, 0).build();
    expect(checkHardRules([], euTask, full)).toBeUndefined();
    expect(checkHardRules([], euTask, virginia().build())).toMatchObject({ plugin: 'residency', reason: 'jurisdiction_not_allowed', summary: 'jurisdiction not in [EU]' });
    const deny = [parsePolicySpec({ name: 'no-ie', denyJurisdictions: ['IE'] })];
    expect(checkHardRules(deny, euTask, full)).toMatchObject({ plugin: 'policy', summary: 'denied by policy no-ie' });
  });
});
