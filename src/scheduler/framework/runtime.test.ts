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

const options: RuntimeOptions = { seed: 0, maxCandidates: 5, maxRejectionsPerReason: 3 };

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

function countingScorer(scope: PluginScope): ScorePlugin & { calls: number } {
  return {
    name: `counting-${scope}`,
    scope,
    calls: 0,
    score() {
      this.calls += 1;
      return 0;
    },
  };
}

const fiveNodes: SchedulerSnapshot = aSnapshot(['a', 'b', 'c', 'd', 'e'].map((name) => aNode().named(name).withCpu(64)));

describe('runtime: work is done at the widest scope a plugin allows', () => {
  it.each<[PluginScope, number, (calls: number) => void]>([
    // Once per node per group.
    ['group', 2, (calls) => expect(calls).toBe(10)],
    // Once per node per group, then again for a node only after a placement on it; the last
    // placement of each group is never looked at again.
    ['node', 2, (calls) => expect(calls).toBe(2 * (5 + 99))],
    // Every task on every node.
    ['task', 2, (calls) => expect(calls).toBe(200 * 5)],
  ])('a %s-scoped filter over %i groups of 100 tasks', (scope, groups, check) => {
    const filter = countingFilter(scope);
    const scorer = countingScorer(scope);
    const requests = Array.from({ length: groups }, (_, g) => aRequest().withId(`g${g}`).inGroup(`g${g}`).many(100)).flat();
    const plan = runCycle(fiveNodes, requests, profile([filter], [[scorer, 1]]), options);
    expect(plan.assignments).toHaveLength(200);
    check(filter.calls);
    check(scorer.calls);
  });

  it('keeps requests of one group key with different constraints apart', () => {
    const nodes = [aNode().named('x').withLabels({ tier: 'x' }), aNode().named('y').withLabels({ tier: 'y' })];
    const requests = [
      aRequest().withId('wants-x').inGroup('g').requiring('tier', 'In', ['x']).build(),
      aRequest().withId('wants-y').inGroup('g').requiring('tier', 'In', ['y']).build(),
      aRequest().withId('wants-x-again').inGroup('g').requiring('tier', 'In', ['x']).build(),
    ];
    const plan = runCycle(aSnapshot(nodes), requests, profile([labelSelectorFilter]), options);
    expect(plan.assignments.map((a) => [a.taskId, a.node])).toEqual([
      ['wants-x', 'x'],
      ['wants-y', 'y'],
      ['wants-x-again', 'x'],
    ]);
  });

  it('keeps requests of one group key with different resources apart', () => {
    const nodes = [aNode().named('small').withCpu(1), aNode().named('big').withCpu(4).withAllocated(3, '0')];
    const requests = [
      aRequest().withId('tiny').inGroup('g').withCpu('500m').build(),
      aRequest().withId('whole').inGroup('g').withCpu(2).build(),
    ];
    const plan = runCycle(aSnapshot(nodes), requests, profile([resourceFitFilter]), options);
    expect(plan.assignments.map((a) => a.taskId)).toEqual(['tiny']);
    expect(plan.unplaced[0]).toMatchObject({ taskId: 'whole', reasons: { insufficient_cpu: 2 } });
  });

  it('reuses pooled buffers for a later group without leaking the earlier group’s answers', () => {
    const nodes = [aNode().named('x').withLabels({ tier: 'x' }).withCpu(1), aNode().named('y').withLabels({ tier: 'y' }).withCpu(1)];
    const requests = [
      aRequest().withId('first').inGroup('a').requiring('tier', 'In', ['x']).withCpu(1).build(),
      // Group a is finished; group b takes over its buffers and must see y, not a's view of x.
      aRequest().withId('second').inGroup('b').requiring('tier', 'In', ['y']).withCpu(1).build(),
      aRequest().withId('third').inGroup('c').withCpu(1).build(),
    ];
    const plan = runCycle(aSnapshot(nodes), requests, profile([labelSelectorFilter, resourceFitFilter], [[leastAllocatedScorer, 1]]), options);
    expect(plan.assignments.map((a) => [a.taskId, a.node])).toEqual([
      ['first', 'x'],
      ['second', 'y'],
    ]);
    expect(plan.unplaced[0]).toMatchObject({ taskId: 'third', reasons: { insufficient_cpu: 2 } });
  });

  it('evaluates task-scoped filters per task and counts their rejections per task', () => {
    // Even-numbered tasks may not use node a.
    const parity: FilterPlugin = {
      name: 'parity',
      scope: 'task',
      filter: (_cycle, task, node) =>
        node.name === 'a' && Number(task.taskId.split('-')[1]) % 2 === 0 ? unschedulable('label_mismatch', 'even tasks avoid a') : SUCCESS,
    };
    const nodes = [aNode().named('a'), aNode().named('b').withCpu(1)];
    const plan = runCycle(aSnapshot(nodes), aRequest().withId('t').withCpu(1).many(4), profile([resourceFitFilter, parity]), options);
    expect(plan.assignments.map((a) => [a.taskId, a.node])).toEqual([
      ['t-0', 'b'],
      ['t-1', 'a'],
      ['t-3', 'a'],
    ]);
    expect(plan.unplaced).toEqual([
      {
        taskId: 't-2',
        reasons: { label_mismatch: 1, insufficient_cpu: 1 },
        message: 'no node fits: 1 label_mismatch, 1 insufficient_cpu',
        rejected: [
          { node: 'b', plugin: 'resource-fit', reason: 'insufficient_cpu', message: 'needs 1 cpu, 0 of 1 free' },
          { node: 'a', plugin: 'parity', reason: 'label_mismatch', message: 'even tasks avoid a' },
        ],
      },
    ]);
  });
});

describe('runtime: scores', () => {
  const byPrice: ScorePlugin = { name: 'price', scope: 'group', normalize: 'max', score: (_c, _t, node) => node.priceHour };

  it('normalises a max-normalised scorer so the best feasible node gets 100', () => {
    const nodes = [aNode().named('a').withPrice(10), aNode().named('b').withPrice(20), aNode().named('c').withPrice(40).inState('down')];
    const plan = runCycle(aSnapshot(nodes), [aRequest().withId('t').build()], profile([nodeReadyFilter], [[byPrice, 2]]), options);
    const { chosen, candidates } = plan.assignments[0]!.explanation;
    expect(chosen).toEqual({ node: 'b', total: 200, scores: [{ plugin: 'price', raw: 20, normalized: 100, weight: 2, weighted: 200 }] });
    expect(candidates[1]).toEqual({ node: 'a', total: 100, scores: [{ plugin: 'price', raw: 10, normalized: 50, weight: 2, weighted: 100 }] });
  });

  it('sums weighted scores over scorers', () => {
    const fixed = (name: string, value: number): ScorePlugin => ({ name, scope: 'group', score: () => value });
    const plan = runCycle(
      aSnapshot([aNode().named('a')]),
      [aRequest().withId('t').build()],
      profile([], [[fixed('ten', 10), 1], [fixed('forty', 40), 0.5]]),
      options,
    );
    expect(plan.assignments[0]?.explanation.chosen.total).toBe(30);
  });

  it.each<[number, number]>([
    [150, 100],
    [-5, 0],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 100],
  ])('clamps a raw score of %d to %d', (value, expected) => {
    const odd: ScorePlugin = { name: 'odd', scope: 'task', score: () => value };
    const plan = runCycle(aSnapshot([aNode().named('a')]), [aRequest().withId('t').build()], profile([], [[odd, 1]]), options);
    expect(plan.assignments[0]?.explanation.chosen.scores[0]?.raw).toBe(expected);
  });

  it('picks the higher total over the first node', () => {
    const preferB: ScorePlugin = { name: 'prefer-b', scope: 'group', score: (_c, _t, node) => (node.name === 'b' ? 90 : 10) };
    const plan = runCycle(aSnapshot([aNode().named('a'), aNode().named('b')]), [aRequest().withId('t').build()], profile([], [[preferB, 1]]), options);
    expect(plan.assignments[0]?.node).toBe('b');
    expect(plan.assignments[0]?.explanation.tied).toBe(1);
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
      filter: (cycle, _task, node) => (cycle.read(allowed).has(node.name) ? SUCCESS : unschedulable('label_mismatch', 'not allowed')),
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

  it('exposes placements of the cycle per group and node', () => {
    const seen: number[] = [];
    const spy: ScorePlugin = {
      name: 'spy',
      scope: 'task',
      score: (cycle, task, node) => {
        if (node.name === 'a') seen.push(cycle.placedInGroup(task.groupKey, node));
        return node.name === 'a' ? 100 : 0;
      },
    };
    runCycle(aSnapshot([aNode().named('a'), aNode().named('b')]), aRequest().withId('t').many(3), profile([], [[spy, 1]]), options);
    expect(seen).toEqual([0, 1, 2]);
  });
});

describe('runtime: refuses bad input', () => {
  const task: PlacementRequest = aRequest().withId('t').build();
  const plugin = (name: string, scope: string): FilterPlugin => ({ name, scope: scope as PluginScope, filter: () => SUCCESS });

  it.each<[string, () => unknown, RegExp]>([
    ['duplicate node names', () => runCycle(aSnapshot([aNode().named('a'), aNode().named('a')]), [task], profile([]), options), /node "a" twice/],
    ['duplicate task ids', () => runCycle(fiveNodes, [task, task], profile([]), options), /task "t" is requested twice/],
    ['negative cpu', () => runCycle(fiveNodes, [{ ...task, resources: { cpuMillis: -1, memoryBytes: 0 } }], profile([]), options), /not negative/],
    ['NaN memory', () => runCycle(fiveNodes, [{ ...task, resources: { cpuMillis: 1, memoryBytes: Number.NaN } }], profile([]), options), /finite/],
    ['duplicate filter names', () => runCycle(fiveNodes, [task], profile([plugin('f', 'group'), plugin('f', 'task')]), options), /filter "f" twice/],
    ['unknown scope', () => runCycle(fiveNodes, [task], profile([plugin('f', 'cycle')]), options), /scope "cycle"/],
    ['no candidate room', () => runCycle(fiveNodes, [task], profile([]), { ...options, maxCandidates: 0 }), /maxCandidates/],
    ['bad seed', () => runCycle(fiveNodes, [task], profile([]), { ...options, seed: Number.NaN }), /seed/],
  ])('%s', (_name, call, message) => {
    expect(call).toThrow(AtollError);
    expect(call).toThrow(message);
  });
});
