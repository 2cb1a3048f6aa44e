import { describe, expect, it } from 'vitest';
import { AtollError } from '../../core/errors.js';
import { labelSelectorFilter } from '../plugins/label-selector-filter.js';
import { leastAllocatedScorer } from '../plugins/least-allocated-scorer.js';
import { nodeReadyFilter } from '../plugins/node-ready-filter.js';
import { resourceFitFilter } from '../plugins/resource-fit-filter.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { cycleKey } from './cycle-state.js';
import type { FilterPlugin, PluginScope, Profile, ScorePlugin } from './plugin.js';
import { runCycle, type RuntimeOptions } from './runtime.js';
import type { PlacementRequest, SchedulerSnapshot } from './snapshot.js';
import { SUCCESS, unschedulable } from './status.js';

const options: RuntimeOptions = { seed: 0, maxCandidates: 3, maxRejectionsPerReason: 3 };

function profile(filters: FilterPlugin[], scorers: Array<[ScorePlugin, number]> = []): Profile {
  return { name: 'test', filters, scorers: scorers.map(([plugin, weight]) => ({ plugin, weight })) };
}

/** A filter that passes everything and counts how often it was asked. */
function countingFilter(scope: PluginScope): FilterPlugin & { calls: number } {
  return {
    name: `counting-${scope}`,
    scope,
    calls: 0,
    filter() {
      this.calls += 1;
      return SUCCESS;
    },
  };
}

const fiveNodes: SchedulerSnapshot = aSnapshot(['a', 'b', 'c', 'd', 'e'].map((name) => aNode().named(name).withCpu(64)));
const placements = (plan: ReturnType<typeof runCycle>) => plan.assignments.map((a) => [a.taskId, a.node]);

describe('runtime: work is done at the widest scope a plugin allows', () => {
  it('runs a group filter once per node per placement class', () => {
    const filter = countingFilter('group');
    const requests = [...aRequest().withId('a').ofJob('a').many(100), ...aRequest().withId('b').ofJob('b').withCpu(2).many(100)];
    const plan = runCycle(fiveNodes, requests, profile([filter]), options);
    expect(plan.assignments).toHaveLength(200);
    expect(filter.calls).toBe(2 * 5);
  });

  it('re-runs a node filter only for the node that took the last placement', () => {
    const filter = countingFilter('node');
    const requests = [...aRequest().withId('a').ofJob('a').many(100), ...aRequest().withId('b').ofJob('b').withCpu(2).many(100)];
    const plan = runCycle(fiveNodes, requests, profile([filter], [[leastAllocatedScorer, 1]]), { ...options, maxCandidates: 1 });
    expect(plan.assignments).toHaveLength(200);
    // Each class checks the five nodes once, then only the node its previous task went to.
    expect(filter.calls).toBe(2 * (5 + 99));
  });

  it('shares one class between jobs with identical placement, and counts their rejections once', () => {
    const filter = countingFilter('group');
    const requests = ['j1', 'j2', 'j3'].flatMap((job) => aRequest().withId(job).ofJob(job).many(10));
    runCycle(fiveNodes, requests, profile([filter]), options);
    expect(filter.calls).toBe(5);
  });

  it('keeps requests of one group key with different placements apart', () => {
    const nodes = [aNode().named('x').withLabels({ tier: 'x' }), aNode().named('y').withLabels({ tier: 'y' })];
    const requests = [
      aRequest().withId('wants-x').inGroup('g').requiring('tier', 'In', ['x']).build(),
      aRequest().withId('wants-y').inGroup('g').requiring('tier', 'In', ['y']).build(),
      aRequest().withId('wants-x-again').inGroup('g').requiring('tier', 'In', ['x']).build(),
    ];
    const plan = runCycle(aSnapshot(nodes), requests, profile([labelSelectorFilter]), options);
    expect(placements(plan)).toEqual([
      ['wants-x', 'x'],
      ['wants-y', 'y'],
      ['wants-x-again', 'x'],
    ]);
  });

  it('keeps requests of one group key with different resources apart', () => {
    const nodes = [aNode().named('small').withCpu(1), aNode().named('big').withCpu(4).withAllocated(3, '0')];
    const requests = [aRequest().withId('tiny').inGroup('g').withCpu('500m').build(), aRequest().withId('whole').inGroup('g').withCpu(2).build()];
    const plan = runCycle(aSnapshot(nodes), requests, profile([resourceFitFilter]), options);
    expect(plan.assignments.map((a) => a.taskId)).toEqual(['tiny']);
    expect(plan.unplaced[0]).toMatchObject({ taskId: 'whole', reasons: { insufficient_cpu: 2 } });
  });

  it('sees capacity another class took earlier in the cycle', () => {
    const nodes = [aNode().named('x').withCpu(1), aNode().named('y').withCpu(1)];
    const requests = [
      aRequest().withId('first').ofJob('a').withCpu(1).build(),
      aRequest().withId('second').ofJob('b').withCpu('600m').build(),
      aRequest().withId('third').ofJob('a').withCpu(1).build(),
    ];
    const plan = runCycle(aSnapshot(nodes), requests, profile([resourceFitFilter], [[leastAllocatedScorer, 1]]), options);
    expect(plan.assignments.map((a) => a.taskId)).toEqual(['first', 'second']);
    expect(plan.unplaced[0]).toMatchObject({ taskId: 'third', reasons: { insufficient_cpu: 2 } });
  });
});

describe('runtime: unplaced tasks say why', () => {
  it('counts every node under one reason and summarises by rule', () => {
    const nodes = [
      aNode().named('down').inState('down'),
      aNode().named('gold-full').withLabels({ tier: 'gold' }).withCpu(1).withAllocated(1, 0),
      aNode().named('silver').withLabels({ tier: 'silver' }),
      aNode().named('plain'),
    ];
    const task = aRequest().withId('t').requiring('tier', 'In', ['gold']).build();
    const plan = runCycle(aSnapshot(nodes), [task], profile([nodeReadyFilter, labelSelectorFilter, resourceFitFilter]), options);
    expect(plan.assignments).toEqual([]);
    expect(plan.unplaced).toEqual([
      {
        taskId: 't',
        reasons: { node_not_ready: 1, label_mismatch: 2, insufficient_cpu: 1 },
        message: '0/4 nodes fit: 2 label not tier In (gold), 1 node down, 1 insufficient cpu',
        rejected: [
          { node: 'down', plugin: 'node-ready', reason: 'node_not_ready', message: 'node is down, not ready' },
          { node: 'silver', plugin: 'label-selector', reason: 'label_mismatch', message: 'requires tier In (gold); node has tier=silver' },
          { node: 'plain', plugin: 'label-selector', reason: 'label_mismatch', message: 'requires tier In (gold); node has no label tier' },
          { node: 'gold-full', plugin: 'resource-fit', reason: 'insufficient_cpu', message: 'needs 0.1 cpu, 0 of 1 free' },
        ],
      },
    ]);
  });

  it('tells an empty cluster to start an agent', () => {
    const plan = runCycle(aSnapshot([]), [aRequest().withId('t').build()], profile([]), options);
    expect(plan.unplaced[0]?.message).toBe('no node fits: the cluster has no nodes; start an agent with `atoll agent`');
  });

  it('caps example rejections per reason but keeps counts exact', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => aNode().named(`n${i}`).inState('down'));
    const plan = runCycle(aSnapshot(nodes), [aRequest().withId('t').build()], profile([nodeReadyFilter]), { ...options, maxRejectionsPerReason: 2 });
    expect(plan.unplaced[0]?.reasons).toEqual({ node_not_ready: 10 });
    expect(plan.unplaced[0]?.rejected.map((r) => r.node)).toEqual(['n0', 'n1']);
  });
});

describe('runtime: scores', () => {
  const byPrice: ScorePlugin = { name: 'price', scope: 'group', normalize: 'lower-is-better', score: (_c, _t, node) => node.priceHour };

  it('maps a lower-is-better measurement so the cheapest allowed node gets 100 and the dearest 0', () => {
    const nodes = [
      aNode().named('a').withPrice(10),
      aNode().named('b').withPrice(20),
      aNode().named('c').withPrice(30),
      // Not allowed, so it does not stretch the range.
      aNode().named('d').withPrice(1).inState('down'),
    ];
    const plan = runCycle(aSnapshot(nodes), [aRequest().withId('t').build()], profile([nodeReadyFilter], [[byPrice, 2]]), options);
    const { chosen, candidates } = plan.assignments[0]!.explanation;
    expect(chosen).toEqual({ node: 'a', total: 200, scores: [{ plugin: 'price', raw: 10, normalized: 100, weight: 2, weighted: 200 }] });
    expect(candidates.map((c) => [c.node, c.scores[0]!.normalized])).toEqual([
      ['a', 100],
      ['b', 50],
      ['c', 0],
    ]);
  });

  it('gives every node 100 when the measurement is equal everywhere, and 0 when it is unknown', () => {
    const unknownOnB: ScorePlugin = { name: 'm', scope: 'group', normalize: 'lower-is-better', score: (_c, _t, node) => (node.name === 'b' ? Number.POSITIVE_INFINITY : 5) };
    const plan = runCycle(aSnapshot([aNode().named('a'), aNode().named('b')]), [aRequest().withId('t').build()], profile([], [[unknownOnB, 1]]), options);
    expect(plan.assignments[0]!.explanation.candidates.map((c) => [c.node, c.scores[0]!.normalized])).toEqual([
      ['a', 100],
      ['b', 0],
    ]);
  });

  it('sums weighted scores over scorers', () => {
    const fixed = (name: string, value: number): ScorePlugin => ({ name, scope: 'group', score: () => value });
    const plan = runCycle(aSnapshot([aNode().named('a')]), [aRequest().withId('t').build()], profile([], [[fixed('ten', 10), 1], [fixed('forty', 40), 0.5]]), options);
    expect(plan.assignments[0]?.explanation.chosen.total).toBe(30);
  });

  it('takes weights per task from weightsFor, so jobs with other objectives rank differently', () => {
    const nearA: ScorePlugin = { name: 'near', scope: 'group', score: (_c, _t, node) => (node.name === 'a' ? 100 : 0) };
    const cheapB: ScorePlugin = { name: 'cheap', scope: 'group', score: (_c, _t, node) => (node.name === 'b' ? 100 : 0) };
    const requests = [aRequest().withId('near').ofJob('near').withPlacement({ optimize: 'latency' }).build(), aRequest().withId('cheap').ofJob('cheap').withPlacement({ optimize: 'cost' }).build()];
    const weightsFor = (task: PlacementRequest) => (task.placement.optimize === 'latency' ? { near: 3, cheap: 1 } : { near: 1, cheap: 3 });
    const plan = runCycle(aSnapshot([aNode().named('a'), aNode().named('b')]), requests, profile([], [[nearA, 1], [cheapB, 1]]), { ...options, weightsFor });
    expect(placements(plan)).toEqual([
      ['near', 'a'],
      ['cheap', 'b'],
    ]);
  });

  it.each<[number, number]>([
    [150, 100],
    [-5, 0],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 100],
  ])('clamps a 0..100 score of %d to %d', (value, expected) => {
    const odd: ScorePlugin = { name: 'odd', scope: 'group', score: () => value };
    const plan = runCycle(aSnapshot([aNode().named('a')]), [aRequest().withId('t').build()], profile([], [[odd, 1]]), options);
    expect(plan.assignments[0]?.explanation.chosen.scores[0]?.raw).toBe(expected);
  });

  it('lists the chosen node, then runner-ups by total, with the scorer details', () => {
    const byName: ScorePlugin = {
      name: 'by-name',
      scope: 'group',
      score: (_c, _t, node) => ({ a: 10, b: 90, c: 50, d: 70 })[node.name] ?? 0,
      describe: (_c, _t, node, raw) => `${node.name} scored ${raw}`,
    };
    const nodes = ['a', 'b', 'c', 'd'].map((n) => aNode().named(n));
    const plan = runCycle(aSnapshot(nodes), [aRequest().withId('t').build()], profile([], [[byName, 1]]), options);
    const { candidates, feasible, nodes: total } = plan.assignments[0]!.explanation;
    expect(candidates.map((c) => c.node)).toEqual(['b', 'd', 'c']);
    expect(candidates[1]!.scores[0]!.detail).toBe('d scored 70');
    expect([feasible, total]).toEqual([4, 4]);
  });

  it('moves to the next node as load grows, and breaks ties the same way for the same seed', () => {
    const nodes = ['a', 'b', 'c'].map((n) => aNode().named(n).withCpu(1));
    const requests = aRequest().withId('t').withCpu('500m').many(6);
    const run = (seed: number) => runCycle(aSnapshot(nodes), requests, profile([resourceFitFilter], [[leastAllocatedScorer, 1]]), { ...options, seed });
    const plan = run(7);
    const perNode = new Map<string, number>();
    for (const a of plan.assignments) perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);
    expect([...perNode.values()]).toEqual([2, 2, 2]);
    // The first three tasks go to three different nodes: equal nodes share load.
    expect(new Set(plan.assignments.slice(0, 3).map((a) => a.node)).size).toBe(3);
    expect(placements(run(7))).toEqual(placements(plan));
    const orders = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => run(seed).assignments[0]!.node));
    expect(orders.size).toBeGreaterThan(1);
  });
});

describe('runtime: spread', () => {
  const providers = (counts: Record<string, number>, cpu = 8) =>
    Object.entries(counts).flatMap(([provider, n]) => Array.from({ length: n }, (_, i) => aNode().named(`${provider}-${i}`).inProvider(provider).withCpu(cpu)));
  const spreadProfile = profile([nodeReadyFilter, resourceFitFilter], [[leastAllocatedScorer, 1]]);
  const providerOf = (node: string) => node.split('-')[0]!;

  it('keeps the job within maxSkew across providers, even when one provider has more nodes', () => {
    const snapshot = aSnapshot(providers({ aws: 5, gcp: 1, hetzner: 1 }));
    const requests = aRequest().withId('t').withPlacement({ spread: { across: 'provider', maxSkew: 1 } }).withCpu(1).many(9);
    const plan = runCycle(snapshot, requests, spreadProfile, options);
    const counts = new Map<string, number>();
    for (const a of plan.assignments) counts.set(providerOf(a.node), (counts.get(providerOf(a.node)) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ aws: 3, gcp: 3, hetzner: 3 });
    const last = plan.assignments[8]!.explanation.spread!;
    expect(last).toMatchObject({ across: 'provider', maxSkew: 1, domainCount: 2, leastCount: 2, openDomains: 3 });
  });

  it('lets the other domains take the rest once a domain is full, instead of waiting', () => {
    const snapshot = aSnapshot([...providers({ aws: 1 }, 2), ...providers({ gcp: 1 }, 8)]);
    const requests = aRequest().withId('t').withPlacement({ spread: { across: 'provider' } }).withCpu(1).many(8);
    const plan = runCycle(snapshot, requests, spreadProfile, options);
    expect(plan.assignments.filter((a) => a.node.startsWith('aws')).length).toBe(2);
    expect(plan.assignments.filter((a) => a.node.startsWith('gcp')).length).toBe(6);
  });

  it('counts tasks of the job placed in earlier rounds', () => {
    const snapshot = aSnapshot(providers({ aws: 1, gcp: 1 }), 0, { placed: new Map([['job', new Map([['aws-0', 3]])]]) });
    const requests = aRequest().withId('t').withPlacement({ spread: { across: 'provider', maxSkew: 1 } }).withCpu(1).many(3);
    const plan = runCycle(snapshot, requests, spreadProfile, options);
    expect(plan.assignments.map((a) => a.node)).toEqual(['gcp-0', 'gcp-0', 'gcp-0']);
  });

  it('keeps counts per job: two jobs sharing a class spread independently', () => {
    const snapshot = aSnapshot(providers({ aws: 1, gcp: 1 }));
    const spread = { spread: { across: 'provider' as const } };
    const requests = [...aRequest().withId('a').ofJob('a').withPlacement(spread).withCpu(1).many(2), ...aRequest().withId('b').ofJob('b').withPlacement(spread).withCpu(1).many(2)];
    const plan = runCycle(snapshot, requests, spreadProfile, options);
    for (const job of ['a', 'b']) {
      const nodes = plan.assignments.filter((x) => x.taskId.startsWith(job)).map((x) => providerOf(x.node));
      expect(nodes.sort()).toEqual(['aws', 'gcp']);
    }
  });
});

describe('runtime: cycle state', () => {
  it('runs prepare once per cycle and hands plugins what it wrote', () => {
    const allowed = cycleKey<ReadonlySet<string>>('allowed-nodes');
    let prepared = 0;
    const allowList: FilterPlugin = {
      name: 'allow-list',
      scope: 'group',
      prepare(cycle) {
        prepared += 1;
        cycle.write(allowed, new Set(cycle.snapshot.nodes.filter((n) => n.name !== 'a').map((n) => n.name)));
      },
      filter: (cycle, _task, node) => (cycle.read(allowed).has(node.name) ? SUCCESS : unschedulable('label_mismatch', 'not allowed', 'not allowed')),
    };
    const plan = runCycle(fiveNodes, aRequest().withId('t').many(20), profile([allowList]), options);
    expect(prepared).toBe(1);
    expect(plan.assignments.every((a) => a.node !== 'a')).toBe(true);
  });

  it('fails loudly when a plugin reads state no prepare hook wrote', () => {
    const missing = cycleKey<number>('missing');
    const broken: FilterPlugin = { name: 'broken', scope: 'group', filter: (cycle) => (cycle.read(missing) > 0 ? SUCCESS : SUCCESS) };
    expect(() => runCycle(fiveNodes, [aRequest().build()], profile([broken]), options)).toThrow(/"missing" was read before/);
  });

  it('writes the time spent on each request when asked', () => {
    const timings = new Float64Array(20);
    runCycle(fiveNodes, aRequest().withId('t').many(20), profile([resourceFitFilter], [[leastAllocatedScorer, 1]]), { ...options, timings });
    expect(timings.every((t) => t >= 0 && t < 1000)).toBe(true);
    expect(timings.some((t) => t > 0)).toBe(true);
  });
});

describe('runtime: refuses bad input', () => {
  const task: PlacementRequest = aRequest().withId('t').build();
  const plugin = (name: string, scope: string): FilterPlugin => ({ name, scope: scope as PluginScope, filter: () => SUCCESS });
  const nodeScopedRange: ScorePlugin = { name: 'r', scope: 'node', normalize: 'lower-is-better', score: () => 1 };

  it.each<[string, () => unknown, RegExp]>([
    ['duplicate node names', () => runCycle(aSnapshot([aNode().named('a'), aNode().named('a')]), [task], profile([]), options), /node "a" twice/],
    ['duplicate task ids', () => runCycle(fiveNodes, [task, task], profile([]), options), /task "t" is requested twice/],
    ['negative cpu', () => runCycle(fiveNodes, [{ ...task, resources: { cpuMillis: -1, memoryBytes: 0 } }], profile([]), options), /not negative/],
    ['NaN memory', () => runCycle(fiveNodes, [{ ...task, resources: { cpuMillis: 1, memoryBytes: Number.NaN } }], profile([]), options), /finite/],
    ['duplicate filter names', () => runCycle(fiveNodes, [task], profile([plugin('f', 'group'), plugin('f', 'node')]), options), /filter "f" twice/],
    ['unknown scope', () => runCycle(fiveNodes, [task], profile([plugin('f', 'task')]), options), /scope "task"/],
    ['a node-scoped range scorer', () => runCycle(fiveNodes, [task], profile([], [[nodeScopedRange, 1]]), options), /only group-scoped/],
    ['no candidate room', () => runCycle(fiveNodes, [task], profile([]), { ...options, maxCandidates: 0 }), /maxCandidates/],
    ['bad seed', () => runCycle(fiveNodes, [task], profile([]), { ...options, seed: Number.NaN }), /seed/],
    ['unknown weight name', () => runCycle(fiveNodes, [task], profile([]), { ...options, weightsFor: () => ({ speed: 1 }) }), /no scorer "speed"/],
    ['short timings', () => runCycle(fiveNodes, [task], profile([]), { ...options, timings: new Float64Array(0) }), /timings/],
  ])('%s', (_name, call, message) => {
    expect(call).toThrow(AtollError);
    expect(call).toThrow(message);
  });
});
