import { describe, expect, it } from 'vitest';
import { AtollError } from '../core/errors.js';
import { DEFAULT_PROFILE, type Plan, schedule, withWeights } from './engine.js';
import { aNode, aRequest, aSnapshot, type NodeBuilder } from './testing/node-builder.js';

const batch = { tier: 'batch' };
const nodeFor = (plan: Plan, taskId: string) => plan.assignments.find((a) => a.taskId === taskId)?.node;

describe('schedule: placement', () => {
  it.each<{ name: string; nodes: NodeBuilder[]; expected: string | null }>([
    {
      name: 'prefers the emptier node',
      nodes: [aNode().named('busy').withLabels(batch).withAllocated(3, '6Gi'), aNode().named('idle').withLabels(batch)],
      expected: 'idle',
    },
    {
      name: 'skips nodes that are not ready',
      nodes: [aNode().named('down').withLabels(batch).inState('down'), aNode().named('busy').withLabels(batch).withAllocated(2, '1Gi')],
      expected: 'busy',
    },
    {
      name: 'skips nodes whose labels do not match',
      nodes: [aNode().named('plain'), aNode().named('labelled').withLabels(batch).withAllocated(3, '0')],
      expected: 'labelled',
    },
    {
      name: 'waits when nothing fits',
      nodes: [aNode().named('full').withLabels(batch).withAllocated(4, '0'), aNode().named('plain')],
      expected: null,
    },
  ])('$name', ({ nodes, expected }) => {
    const task = aRequest().withId('t').withCpu(1).requiring('tier', 'In', ['batch']).build();
    const plan = schedule(aSnapshot(nodes), [task]);
    expect(nodeFor(plan, 't') ?? null).toBe(expected);
    expect(plan.assignments.length + plan.unplaced.length).toBe(1);
  });

  it('lets later tasks see earlier placements in the same call', () => {
    const nodes = [aNode().named('a').withCpu(1), aNode().named('b').withCpu(1)];
    const plan = schedule(aSnapshot(nodes), aRequest().withId('t').withCpu(1).many(3));
    expect(plan.assignments.map((a) => a.node).sort()).toEqual(['a', 'b']);
    expect(plan.unplaced).toEqual([
      expect.objectContaining({ taskId: 't-2', reasons: { insufficient_cpu: 2 }, message: 'no node fits: 2 insufficient_cpu' }),
    ]);
  });

  it('spreads a group across equal nodes', () => {
    const nodes = ['a', 'b', 'c', 'd'].map((name) => aNode().named(name).withCpu(8));
    const plan = schedule(aSnapshot(nodes), aRequest().withId('t').withCpu(1).many(32));
    const perNode = new Map<string, number>();
    for (const { node } of plan.assignments) perNode.set(node, (perNode.get(node) ?? 0) + 1);
    expect([...perNode.values()]).toEqual([8, 8, 8, 8]);
  });

  it('breaks ties with the seed instead of always taking the first node', () => {
    const nodes = ['a', 'b', 'c', 'd'].map((name) => aNode().named(name));
    const task = aRequest().withId('t').build();
    const firstChoices = new Set(Array.from({ length: 20 }, (_, seed) => nodeFor(schedule(aSnapshot(nodes), [task], { seed }), 't')));
    expect(firstChoices.size).toBeGreaterThan(1);
    const plan = schedule(aSnapshot(nodes), [task], { seed: 3 });
    expect(plan.assignments[0]?.explanation.tied).toBe(4);
    expect(schedule(aSnapshot(nodes), [task], { seed: 3 })).toEqual(plan);
  });

  it('answers a cluster without nodes with no_nodes', () => {
    const plan = schedule(aSnapshot([]), [aRequest().withId('t').build()]);
    expect(plan.unplaced).toEqual([
      expect.objectContaining({ taskId: 't', reasons: { no_nodes: 1 }, message: expect.stringMatching(/has no nodes/) }),
    ]);
  });

  it('returns an empty plan for no requests', () => {
    expect(schedule(aSnapshot([aNode().named('a')]), [])).toEqual({ assignments: [], unplaced: [] });
  });
});

describe('schedule: explanations', () => {
  // 3 nodes short of cpu, 2 with the wrong labels, 1 not ready, 1 that fits.
  const nodes = [
    aNode().named('cpu-1').withLabels(batch).withAllocated(3.5, '0'),
    aNode().named('gpu-1').withLabels({ tier: 'gpu' }),
    aNode().named('cpu-2').withLabels(batch).withAllocated(3.5, '0'),
    aNode().named('plain'),
    aNode().named('cpu-3').withLabels(batch).withAllocated(3.5, '0'),
    aNode().named('lost').withLabels(batch).inState('unreachable'),
    aNode().named('good').withLabels(batch).withAllocated(1, '2Gi'),
  ];
  const task = aRequest().withId('t').withCpu(1).withMemory('2Gi').requiring('tier', 'In', ['batch']).build();

  it('records the chosen node, its score breakdown and why the others were rejected', () => {
    const plan = schedule(aSnapshot(nodes), [task]);
    const assignment = plan.assignments[0];
    expect(assignment?.node).toBe('good');
    const explanation = assignment!.explanation;
    // 2 of 4 cores and 4Gi of 8Gi free after placement: (0.5 + 0.5) / 2 * 100.
    expect(explanation.chosen).toEqual({
      node: 'good',
      total: 50,
      scores: [{ plugin: 'least-allocated', raw: 50, normalized: 50, weight: 1, weighted: 50 }],
    });
    expect(explanation.candidates).toEqual([explanation.chosen]);
    expect(explanation.feasible).toBe(1);
    expect(explanation.reasons).toEqual({ node_not_ready: 1, label_mismatch: 2, insufficient_cpu: 3 });
    expect(explanation.rejected).toContainEqual({
      node: 'gpu-1',
      plugin: 'label-selector',
      reason: 'label_mismatch',
      message: 'requires tier In (batch); node has tier=gpu',
    });
    expect(explanation.rejected).toContainEqual({
      node: 'cpu-1',
      plugin: 'resource-fit',
      reason: 'insufficient_cpu',
      message: 'needs 1 cpu, 0.5 of 4 free',
    });
  });

  it('says why a task waits, counting each node under one reason', () => {
    const plan = schedule(aSnapshot(nodes.slice(0, 6)), [task]);
    expect(plan.assignments).toEqual([]);
    expect(plan.unplaced).toHaveLength(1);
    const unplaced = plan.unplaced[0]!;
    expect(unplaced.reasons).toEqual({ node_not_ready: 1, label_mismatch: 2, insufficient_cpu: 3 });
    expect(unplaced.message).toBe('no node fits: 3 insufficient_cpu, 2 label_mismatch, 1 node_not_ready');
    expect(unplaced.rejected.map((r) => r.node).sort()).toEqual(['cpu-1', 'cpu-2', 'cpu-3', 'gpu-1', 'lost', 'plain']);
  });

  it('keeps the best candidates, chosen first, up to the cap', () => {
    const many = Array.from({ length: 10 }, (_, i) => aNode().named(`n${i}`).withAllocated(`${i * 100}m`, '0'));
    const plan = schedule(aSnapshot(many), [aRequest().withId('t').build()], { maxCandidates: 3 });
    const { candidates, chosen } = plan.assignments[0]!.explanation;
    expect(chosen.node).toBe('n0');
    expect(candidates.map((c) => c.node)).toEqual(['n0', 'n1', 'n2']);
    expect(candidates.every((c, i) => i === 0 || c.total <= candidates[i - 1]!.total)).toBe(true);
  });

  it('caps example rejections per reason but keeps counts exact', () => {
    const down = Array.from({ length: 10 }, (_, i) => aNode().named(`down-${i}`).inState('down'));
    const plan = schedule(aSnapshot(down), [aRequest().withId('t').build()], { maxRejectionsPerReason: 2 });
    expect(plan.unplaced[0]?.reasons).toEqual({ node_not_ready: 10 });
    expect(plan.unplaced[0]?.rejected.map((r) => r.node)).toEqual(['down-0', 'down-1']);
  });

  it('shares explanation parts between tasks of one group instead of copying them', () => {
    const full = aNode().named('full').withAllocated(4, '0');
    const plan = schedule(aSnapshot([full]), aRequest().withId('t').many(100));
    const first = plan.unplaced[0]!;
    expect(plan.unplaced.every((u) => u.reasons === first.reasons && u.rejected === first.rejected)).toBe(true);
  });
});

describe('schedule: weights and profiles', () => {
  it('applies weight overrides to the score breakdown', () => {
    const plan = schedule(aSnapshot([aNode().named('a')]), [aRequest().withId('t').withCpu(2).withMemory('4Gi').build()], {
      weights: { 'least-allocated': 3 },
    });
    expect(plan.assignments[0]?.explanation.chosen.scores).toEqual([
      { plugin: 'least-allocated', raw: 50, normalized: 50, weight: 3, weighted: 150 },
    ]);
    expect(plan.assignments[0]?.explanation.chosen.total).toBe(150);
  });

  it('refuses a weight for a scorer the profile does not have', () => {
    expect(() => withWeights(DEFAULT_PROFILE, { latency: 2 })).toThrow(AtollError);
    expect(() => withWeights(DEFAULT_PROFILE, { latency: 2 })).toThrow(/no scorer "latency".*least-allocated/);
  });

  it('refuses a negative weight', () => {
    expect(() => schedule(aSnapshot([aNode().named('a')]), [aRequest().build()], { weights: { 'least-allocated': -1 } })).toThrow(
      /weights must be finite and not negative/,
    );
  });

  it('runs a custom profile', () => {
    // Without scorers every feasible node ties, and only the filters decide.
    const profile = { name: 'filters-only', filters: DEFAULT_PROFILE.filters, scorers: [] };
    const nodes = [aNode().named('a').inState('down'), aNode().named('b')];
    const plan = schedule(aSnapshot(nodes), [aRequest().withId('t').build()], { profile });
    expect(plan.assignments[0]).toMatchObject({ node: 'b', explanation: { chosen: { node: 'b', total: 0, scores: [] } } });
  });
});
