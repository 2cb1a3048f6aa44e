import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstUnmetRequirement, type LabelRequirement } from '../core/label-selector.js';
import type { NodeState } from '../core/states.js';
import { type Plan, schedule } from './engine.js';
import { seededRandom } from './framework/random.js';
import type { PlacementRequest, SchedulerSnapshot } from './framework/snapshot.js';
import { aNode, aSnapshot } from './testing/node-builder.js';

// Small domains on purpose: equal nodes (ties), full nodes and shared group keys with different
// constraints must all come up often.

const GiB = 2 ** 30;

const nodeArb = fc.record({
  state: fc.constantFrom<NodeState>('ready', 'ready', 'ready', 'unreachable', 'draining'),
  tier: fc.constantFrom<string | undefined>('a', 'b', undefined),
  cores: fc.integer({ min: 1, max: 4 }),
  memoryGi: fc.integer({ min: 1, max: 8 }),
  usedCpuPercent: fc.constantFrom(0, 0, 25, 50, 100),
  usedMemoryPercent: fc.constantFrom(0, 0, 50, 100),
});

const constraintArb = fc.constantFrom<readonly LabelRequirement[]>(
  [],
  [{ key: 'tier', operator: 'In', values: ['a'] }],
  [{ key: 'tier', operator: 'NotIn', values: ['b'] }],
  [{ key: 'tier', operator: 'Exists' }],
);

// Templates 0 and 2 (and 1 and 3) share a group key but may differ in constraints or resources.
const templateArb = fc.record({
  cpuMillis: fc.constantFrom(250, 500, 1000, 2000),
  memoryBytes: fc.constantFrom(GiB / 4, GiB, 2 * GiB),
  constraints: constraintArb,
});

const scenarioArb = fc.record({
  // Nodes are drawn from a few kinds so that identical nodes, and so ties, are common.
  nodeKinds: fc.array(nodeArb, { minLength: 1, maxLength: 3 }),
  nodePicks: fc.array(fc.nat(), { maxLength: 8 }),
  templates: fc.array(templateArb, { minLength: 1, maxLength: 4 }),
  picks: fc.array(fc.nat(), { maxLength: 60 }),
  seed: fc.nat(),
});

type Scenario = fc.Arbitrary<{ snapshot: SchedulerSnapshot; requests: PlacementRequest[]; seed: number }>;

const scenarios: Scenario = scenarioArb.map(({ nodeKinds, nodePicks, templates, picks, seed }) => {
  const snapshot = aSnapshot(
    nodePicks.map((pick, i) => {
      const n = nodeKinds[pick % nodeKinds.length]!;
      const builder = aNode()
        .named(`n${i}`)
        .inState(n.state)
        .withCpu(n.cores)
        .withMemory(n.memoryGi * GiB)
        .withAllocated(`${(n.cores * 1000 * n.usedCpuPercent) / 100}m`, (n.memoryGi * GiB * n.usedMemoryPercent) / 100);
      return n.tier === undefined ? builder : builder.withLabels({ tier: n.tier });
    }),
    1_700_000_000_000,
  );
  const requests = picks.map((pick, i): PlacementRequest => {
    const t = pick % templates.length;
    const template = templates[t]!;
    return {
      taskId: `t${i}`,
      jobId: `job${t % 2}`,
      groupKey: `job${t % 2}`,
      resources: { cpuMillis: template.cpuMillis, memoryBytes: template.memoryBytes },
      constraints: template.constraints,
    };
  });
  return { snapshot, requests, seed };
});

/**
 * The default profile written the slow, obvious way: every filter on every node for every task,
 * ties broken by the same reservoir sampling. The engine caches per group and per node change;
 * it must choose exactly what this does.
 */
function referencePlan(snapshot: SchedulerSnapshot, requests: readonly PlacementRequest[], seed: number): Map<string, string | null> {
  const random = seededRandom(seed);
  const cpu = snapshot.nodes.map((n) => n.allocated.cpuMillis);
  const memory = snapshot.nodes.map((n) => n.allocated.memoryBytes);
  const chosen = new Map<string, string | null>();
  for (const task of requests) {
    let best = -Infinity;
    let pick = -1;
    let tied = 0;
    snapshot.nodes.forEach((node, i) => {
      if (node.state !== 'ready' || firstUnmetRequirement(node.labels, task.constraints) !== undefined) return;
      if (task.resources.cpuMillis > node.capacity.cpuMillis - cpu[i]!) return;
      if (task.resources.memoryBytes > node.capacity.memoryBytes - memory[i]!) return;
      const free = (capacity: number, used: number) => (capacity <= 0 ? 0 : Math.max(0, (capacity - used) / capacity));
      const raw =
        ((free(node.capacity.cpuMillis, cpu[i]! + task.resources.cpuMillis) +
          free(node.capacity.memoryBytes, memory[i]! + task.resources.memoryBytes)) /
          2) *
        100;
      const total = 1 * 1 * Math.min(100, Math.max(0, raw));
      if (total > best + 1e-9) {
        best = total;
        pick = i;
        tied = 1;
      } else if (total >= best - 1e-9) {
        tied += 1;
        if (random() * tied < 1) pick = i;
      }
    });
    if (pick < 0) {
      chosen.set(task.taskId, null);
      continue;
    }
    cpu[pick]! += task.resources.cpuMillis;
    memory[pick]! += task.resources.memoryBytes;
    chosen.set(task.taskId, snapshot.nodes[pick]!.name);
  }
  return chosen;
}

function sum(counts: Readonly<Partial<Record<string, number>>>): number {
  return Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);
}

describe('schedule: properties', () => {
  it('never reserves more than a node has', () => {
    fc.assert(
      fc.property(scenarios, ({ snapshot, requests, seed }) => {
        const plan = schedule(snapshot, requests, { seed });
        const byId = new Map(requests.map((r) => [r.taskId, r]));
        for (const node of snapshot.nodes) {
          const placed = plan.assignments.filter((a) => a.node === node.name).map((a) => byId.get(a.taskId)!);
          if (placed.length === 0) continue;
          const cpu = node.allocated.cpuMillis + placed.reduce((s, r) => s + r.resources.cpuMillis, 0);
          const memory = node.allocated.memoryBytes + placed.reduce((s, r) => s + r.resources.memoryBytes, 0);
          expect(cpu).toBeLessThanOrEqual(node.capacity.cpuMillis);
          expect(memory).toBeLessThanOrEqual(node.capacity.memoryBytes);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('only assigns to ready nodes whose labels satisfy the task', () => {
    fc.assert(
      fc.property(scenarios, ({ snapshot, requests, seed }) => {
        const plan = schedule(snapshot, requests, { seed });
        const nodes = new Map(snapshot.nodes.map((n) => [n.name, n]));
        const byId = new Map(requests.map((r) => [r.taskId, r]));
        for (const { taskId, node } of plan.assignments) {
          const target = nodes.get(node)!;
          expect(target.state).toBe('ready');
          expect(firstUnmetRequirement(target.labels, byId.get(taskId)!.constraints)).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same plan for the same inputs and seed', () => {
    fc.assert(
      fc.property(scenarios, ({ snapshot, requests, seed }) => {
        const first: Plan = schedule(snapshot, requests, { seed });
        // A structurally equal copy of the inputs, so nothing rides on object identity.
        const copy = JSON.parse(JSON.stringify({ snapshot, requests })) as { snapshot: SchedulerSnapshot; requests: PlacementRequest[] };
        expect(schedule(copy.snapshot, copy.requests, { seed })).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });

  it('accounts for every request exactly once, and every node in each explanation', () => {
    fc.assert(
      fc.property(scenarios, ({ snapshot, requests, seed }) => {
        const plan = schedule(snapshot, requests, { seed });
        const ids = [...plan.assignments.map((a) => a.taskId), ...plan.unplaced.map((u) => u.taskId)];
        expect(ids.sort()).toEqual(requests.map((r) => r.taskId).sort());
        for (const unplaced of plan.unplaced) {
          expect(sum(unplaced.reasons)).toBeGreaterThan(0);
          expect(unplaced.message).toMatch(/^no node fits: /);
          if (snapshot.nodes.length > 0) expect(sum(unplaced.reasons)).toBe(snapshot.nodes.length);
        }
        for (const { explanation } of plan.assignments) {
          expect(sum(explanation.reasons) + explanation.feasible).toBe(snapshot.nodes.length);
          expect(explanation.candidates[0]).toBe(explanation.chosen);
          expect(explanation.chosen.scores.map((s) => s.plugin)).toEqual(['least-allocated']);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('chooses what the uncached reference chooses', () => {
    fc.assert(
      fc.property(scenarios, ({ snapshot, requests, seed }) => {
        const plan = schedule(snapshot, requests, { seed });
        const expected = referencePlan(snapshot, requests, seed);
        const actual = new Map<string, string | null>(requests.map((r) => [r.taskId, null]));
        for (const a of plan.assignments) actual.set(a.taskId, a.node);
        expect(actual).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
