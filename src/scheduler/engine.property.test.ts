import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JurisdictionTable } from '../core/jurisdictions.js';
import { matchesRequirement } from '../core/label-selector.js';
import { type PlacementSpecInput, placementSpecSchema, type Toleration } from '../core/placement-spec.js';
import { parsePolicySpec, type PolicySpec } from '../core/policy-spec.js';
import type { NodeState } from '../core/states.js';
import { DEFAULT_PROFILE, PlacementCache, type Plan, schedule, weightsForTask } from './engine.js';
import { Cycle } from './framework/cycle-state.js';
import { seededPermutation } from './framework/random.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './framework/snapshot.js';
import { aNode, aSnapshot } from './testing/node-builder.js';

// Random fleets, jobs and policies over small domains, so that equal nodes (ties), full nodes,
// shared classes and rules that exclude everything all come up often. Hard rules are checked
// against an oracle written from the spec, not with the plugins under test.

const GiB = 2 ** 30;
const table = new JurisdictionTable();

const nodeArb = fc.record({
  state: fc.constantFrom<NodeState>('ready', 'ready', 'ready', 'ready', 'unreachable', 'draining'),
  jurisdiction: fc.constantFrom<string | null>('DE', 'FR', 'IE', 'US', 'SG', 'CH', null),
  provider: fc.constantFrom('aws', 'gcp', 'hetzner'),
  region: fc.constantFrom('r1', 'r2', 'r3'),
  site: fc.constantFrom('', 's1', 's2'),
  edge: fc.boolean(),
  tier: fc.constantFrom<string | undefined>('a', 'b', undefined),
  cores: fc.integer({ min: 1, max: 4 }),
  usedCpuPercent: fc.constantFrom(0, 0, 25, 50, 100),
  price: fc.constantFrom(0.05, 0.1, 0.2, 0.4),
  place: fc.constantFrom([50.1, 8.7], [53.3, -6.3], [38.9, -77.4], [1.35, 103.8]),
});

const jobArb = fc.record({
  namespace: fc.constantFrom('ns0', 'ns1'),
  residency: fc.constantFrom<string[] | undefined>(undefined, ['EU'], ['US'], ['DE', 'CH'], ['EEA']),
  avoidProviders: fc.constantFrom<string[]>([], ['aws'], ['gcp', 'hetzner']),
  require: fc.constantFrom<PlacementSpecInput['require']>([], [{ key: 'tier', operator: 'In', values: ['a'] }], [{ key: 'tier', operator: 'Exists' }]),
  tolerations: fc.constantFrom<Toleration[]>([], [{ key: 'edge' }]),
  spread: fc.constantFrom<PlacementSpecInput['spread']>(undefined, { across: 'provider' }, { across: 'region', maxSkew: 2 }, { across: 'site' }),
  optimize: fc.constantFrom('latency', 'cost', 'balanced') as fc.Arbitrary<'latency' | 'cost' | 'balanced'>,
  prefer: fc.constantFrom<PlacementSpecInput['prefer']>([], [{ weight: 5, match: { key: 'tier', operator: 'In', values: ['b'] } }]),
  cpuMillis: fc.constantFrom(250, 500, 1000, 2000),
});

const policiesArb = fc.constantFrom<PolicySpec[]>(
  [],
  [parsePolicySpec({ name: 'no-us', denyJurisdictions: ['US'] })],
  [parsePolicySpec({ name: 'ns1-clouds', namespaces: ['ns1'], allowProviders: ['aws', 'hetzner'] })],
  [parsePolicySpec({ name: 'no-us', denyJurisdictions: ['US'] }), parsePolicySpec({ name: 'ns0-no-sg', namespaces: ['ns0'], denyJurisdictions: ['SG'] })],
);

interface Scenario {
  readonly snapshot: SchedulerSnapshot;
  readonly requests: PlacementRequest[];
  readonly seed: number;
}

const scenarios: fc.Arbitrary<Scenario> = fc
  .record({
    nodeKinds: fc.array(nodeArb, { minLength: 1, maxLength: 4 }),
    nodePicks: fc.array(fc.nat(), { maxLength: 10 }),
    jobs: fc.array(jobArb, { minLength: 1, maxLength: 3 }),
    picks: fc.array(fc.nat(), { maxLength: 40 }),
    policies: policiesArb,
    seed: fc.nat(),
  })
  .map(({ nodeKinds, nodePicks, jobs, picks, policies, seed }) => {
    const nodes = nodePicks.map((pick, i) => {
      const n = nodeKinds[pick % nodeKinds.length]!;
      let builder = aNode()
        .named(`n${i}`)
        .inState(n.state)
        .inProvider(n.provider)
        .inRegion(n.region)
        .atSite(n.site)
        .withCpu(n.cores)
        .withMemory(8 * GiB)
        .withPrice(n.price)
        .at(n.place[0]!, n.place[1]!)
        .withAllocated(`${(n.cores * 1000 * n.usedCpuPercent) / 100}m`, 0);
      if (n.jurisdiction !== null) builder = builder.inJurisdiction(n.jurisdiction);
      if (n.edge) builder = builder.ofKind('edge').withTaints({ key: 'edge' });
      if (n.tier !== undefined) builder = builder.withLabels({ tier: n.tier });
      return builder;
    });
    const specs = jobs.map((job) =>
      placementSpecSchema.parse({
        ...(job.residency === undefined ? {} : { residency: job.residency }),
        avoid: { providers: job.avoidProviders },
        require: job.require,
        prefer: job.prefer,
        optimize: job.optimize,
        near: { users: [{ lat: 48.9, lon: 2.35 }] },
        ...(job.spread === undefined ? {} : { spread: job.spread }),
      }),
    );
    const requests = picks.map((pick, i): PlacementRequest => {
      const j = pick % jobs.length;
      const job = jobs[j]!;
      return {
        taskId: `t${i}`,
        jobId: `job${j}`,
        groupKey: `job${j}`,
        namespace: job.namespace,
        resources: { cpuMillis: job.cpuMillis, memoryBytes: GiB },
        placement: specs[j]!,
        tolerations: job.tolerations,
        expectedDurationMs: 3_600_000,
      };
    });
    return { snapshot: aSnapshot(nodes, 1_700_000_000_000, { policies }), requests, seed };
  });

/** The hard rules, written from the spec: readiness, policy, residency, avoid, require, taints. */
function allowedByRules(snapshot: SchedulerSnapshot, task: PlacementRequest, node: SnapshotNode): boolean {
  if (node.state !== 'ready') return false;
  const j = node.jurisdiction;
  for (const policy of snapshot.policies ?? []) {
    if (policy.namespaces !== undefined && !policy.namespaces.includes(task.namespace)) continue;
    if (policy.denyJurisdictions !== undefined && (j === null || table.expand(policy.denyJurisdictions).has(j))) return false;
    if (policy.allowProviders !== undefined && !policy.allowProviders.includes(node.provider)) return false;
  }
  const { residency, avoid, require } = task.placement;
  if (residency !== undefined && (j === null || !table.expand(residency).has(j))) return false;
  if (avoid?.providers.includes(node.provider)) return false;
  if (!require.every((r) => matchesRequirement(node.labels, r))) return false;
  return node.taints.every((taint) => task.tolerations.some((t) => t.key === taint.key));
}

/** Replays a plan in request order with running allocations; calls back per request. */
function replay(
  { snapshot, requests }: Scenario,
  plan: Plan,
  visit: (task: PlacementRequest, node: SnapshotNode | undefined, fits: (n: SnapshotNode) => boolean, cpuUsed: Map<string, number>) => void,
): void {
  const placedOn = new Map(plan.assignments.map((a) => [a.taskId, a.node]));
  const cpuUsed = new Map(snapshot.nodes.map((n) => [n.name, n.allocated.cpuMillis]));
  const memoryUsed = new Map(snapshot.nodes.map((n) => [n.name, n.allocated.memoryBytes]));
  for (const task of requests) {
    const fits = (n: SnapshotNode) =>
      allowedByRules(snapshot, task, n) &&
      cpuUsed.get(n.name)! + task.resources.cpuMillis <= n.capacity.cpuMillis &&
      memoryUsed.get(n.name)! + task.resources.memoryBytes <= n.capacity.memoryBytes;
    const name = placedOn.get(task.taskId);
    const node = snapshot.nodes.find((n) => n.name === name);
    visit(task, node, fits, cpuUsed);
    if (node !== undefined) {
      cpuUsed.set(node.name, cpuUsed.get(node.name)! + task.resources.cpuMillis);
      memoryUsed.set(node.name, memoryUsed.get(node.name)! + task.resources.memoryBytes);
    }
  }
}

/**
 * The default profile the slow, obvious way: every plugin on every node for every task, totals
 * summed in the runtime's order and rounded the same way, ties to the lower seeded rank. The
 * engine keeps heaps it updates lazily; it must choose exactly what this does.
 */
function referencePlan({ snapshot, requests, seed }: Scenario): Map<string, string | null> {
  const cycle = new Cycle(snapshot);
  const rank = seededPermutation(snapshot.nodes.length, seed);
  const scorers = DEFAULT_PROFILE.scorers;
  for (const { plugin } of scorers) plugin.prepare?.(cycle);
  const groupFilters = DEFAULT_PROFILE.filters.filter((f) => f.scope === 'group');
  const nodeFilters = DEFAULT_PROFILE.filters.filter((f) => f.scope === 'node');
  const passes = (filters: typeof groupFilters, task: PlacementRequest, node: SnapshotNode) => filters.every((f) => f.filter(cycle, task, node).code === 'success');
  const spreadCounts = new Map<string, Map<string, number>>();
  const chosen = new Map<string, string | null>();
  for (const task of requests) {
    const weights = weightsForTask(task);
    const admitted = snapshot.nodes.filter((node) => passes(groupFilters, task, node));
    // Lower-is-better scorers are mapped over the nodes the hard rules admit.
    const ranges = scorers.map(({ plugin }) => {
      const values = admitted.map((n) => plugin.score(cycle, task, n)).filter(Number.isFinite);
      const best = Math.min(...values);
      return [best, Math.max(...values) - best, plugin.minSpan?.(best) ?? 0] as const;
    });
    const norm = (p: number, raw: number) => {
      if (scorers[p]!.plugin.normalize !== 'lower-is-better') return raw > 100 ? 100 : raw >= 0 ? raw : 0;
      const [best, gap, floor] = ranges[p]!;
      if (!Number.isFinite(raw)) return 0;
      const span = Number.isFinite(best) ? Math.max(gap, floor) : 0;
      return span > 0 ? Math.max(0, 100 * (1 - (raw - best) / span)) : 100;
    };
    const total = (node: SnapshotNode) => {
      let sum = 0;
      scorers.forEach(({ plugin }, p) => {
        if (plugin.scope === 'group') sum += weights[plugin.name]! * norm(p, plugin.score(cycle, task, node));
      });
      scorers.forEach(({ plugin }, p) => {
        if (plugin.scope === 'node') sum += weights[plugin.name]! * norm(p, plugin.score(cycle, task, node));
      });
      return Math.round(sum * 1e6) / 1e6;
    };
    let fitting = admitted.filter((node) => passes(nodeFilters, task, node));
    const spread = task.placement.spread;
    const counts = spreadCounts.get(task.groupKey) ?? new Map<string, number>();
    spreadCounts.set(task.groupKey, counts);
    if (spread !== undefined && fitting.length > 0) {
      const domainOf = (n: SnapshotNode) => n[spread.across];
      const min = Math.min(...fitting.map((n) => counts.get(domainOf(n)) ?? 0));
      fitting = fitting.filter((n) => (counts.get(domainOf(n)) ?? 0) + 1 - min <= spread.maxSkew);
    }
    let best: SnapshotNode | undefined;
    let bestTotal = -Infinity;
    for (const node of fitting) {
      const t = total(node);
      const index = snapshot.nodes.indexOf(node);
      if (t > bestTotal || (t === bestTotal && rank[index]! < rank[snapshot.nodes.indexOf(best!)]!)) {
        best = node;
        bestTotal = t;
      }
    }
    chosen.set(task.taskId, best?.name ?? null);
    if (best !== undefined) {
      cycle.reserve(snapshot.nodes.indexOf(best), task);
      if (spread !== undefined) counts.set(best[spread.across], (counts.get(best[spread.across]) ?? 0) + 1);
    }
  }
  return chosen;
}

describe('schedule: properties over random fleets, jobs and policies', () => {
  it('never breaks a hard rule and never overfills a node', () => {
    fc.assert(
      fc.property(scenarios, (scenario) => {
        const plan = schedule(scenario.snapshot, scenario.requests, { seed: scenario.seed });
        replay(scenario, plan, (_task, node, fits) => {
          if (node !== undefined) expect(fits(node)).toBe(true);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('leaves a task unplaced only when no node could take it, and says how many nodes were looked at', () => {
    fc.assert(
      fc.property(scenarios, (scenario) => {
        const plan = schedule(scenario.snapshot, scenario.requests, { seed: scenario.seed });
        const unplaced = new Map(plan.unplaced.map((u) => [u.taskId, u]));
        replay(scenario, plan, (task, node, fits) => {
          if (node !== undefined) return;
          expect(scenario.snapshot.nodes.some(fits)).toBe(false);
          const u = unplaced.get(task.taskId)!;
          const counted = Object.values(u.reasons).reduce<number>((a, b) => a + (b ?? 0), 0);
          expect(counted).toBe(Math.max(1, scenario.snapshot.nodes.length));
          if (scenario.snapshot.nodes.length > 0) expect(u.message).toMatch(new RegExp(`^0/${scenario.snapshot.nodes.length} nodes fit: `));
        });
      }),
      { numRuns: 400 },
    );
  });

  it('keeps each spreading job within maxSkew among the domains that could take it', () => {
    fc.assert(
      fc.property(scenarios, (scenario) => {
        const plan = schedule(scenario.snapshot, scenario.requests, { seed: scenario.seed });
        const counts = new Map<string, Map<string, number>>();
        replay(scenario, plan, (task, node, fits) => {
          const spread = task.placement.spread;
          if (node === undefined || spread === undefined) return;
          const perDomain = counts.get(task.groupKey) ?? new Map<string, number>();
          counts.set(task.groupKey, perDomain);
          const open = scenario.snapshot.nodes.filter(fits).map((n) => perDomain.get(n[spread.across]) ?? 0);
          const domain = node[spread.across];
          expect((perDomain.get(domain) ?? 0) + 1 - Math.min(...open)).toBeLessThanOrEqual(spread.maxSkew);
          perDomain.set(domain, (perDomain.get(domain) ?? 0) + 1);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('chooses what the uncached reference chooses', () => {
    fc.assert(
      fc.property(scenarios, (scenario) => {
        const plan = schedule(scenario.snapshot, scenario.requests, { seed: scenario.seed });
        const actual = new Map<string, string | null>(scenario.requests.map((r) => [r.taskId, null]));
        for (const a of plan.assignments) actual.set(a.taskId, a.node);
        expect(actual).toEqual(referencePlan(scenario));
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

  it('accounts for every request exactly once and lists the chosen node first', () => {
    fc.assert(
      fc.property(scenarios, ({ snapshot, requests, seed }) => {
        const plan = schedule(snapshot, requests, { seed });
        const ids = [...plan.assignments.map((a) => a.taskId), ...plan.unplaced.map((u) => u.taskId)];
        expect(ids.sort()).toEqual(requests.map((r) => r.taskId).sort());
        for (const { node, explanation } of plan.assignments) {
          expect(explanation.candidates[0]).toBe(explanation.chosen);
          expect(explanation.chosen.node).toBe(node);
          expect(new Set(explanation.candidates.map((c) => c.node)).size).toBe(explanation.candidates.length);
          for (const c of explanation.candidates.slice(1)) expect(c.total).toBeLessThanOrEqual(explanation.chosen.total);
          expect(explanation.chosen.scores.map((s) => s.plugin)).toEqual(['latency', 'cost', 'load', 'affinity', 'locality']);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('schedule: a PlacementCache changes nothing but speed', () => {
  /** What must not differ between a plan made with kept classes and one made from scratch. */
  const essence = (plan: Plan) => ({
    assignments: plan.assignments.map((a) => [a.taskId, a.node, a.explanation.chosen.total, a.explanation.feasible, a.explanation.reasons]),
    unplaced: plan.unplaced.map((u) => [u.taskId, u.reasons, u.message]),
  });

  it('gives the same plans over rounds on one fleet, as tasks land and finish in between', () => {
    fc.assert(
      fc.property(scenarios, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (scenario, frees) => {
        const cache = new PlacementCache();
        let nodes = scenario.snapshot.nodes;
        const placed = new Map<string, Map<string, number>>();
        const third = Math.ceil(scenario.requests.length / 3);
        const rounds = [0, 1, 2].map((r) => scenario.requests.slice(r * third, (r + 1) * third));
        rounds.forEach((requests, round) => {
          const snapshot: SchedulerSnapshot = { ...scenario.snapshot, nodes, placed, fleetVersion: 7 };
          const kept = schedule(snapshot, requests, { seed: scenario.seed, cache });
          const fresh = schedule({ ...snapshot, fleetVersion: undefined }, requests, { seed: scenario.seed });
          expect(essence(kept)).toEqual(essence(fresh));
          // Apply the plan, then let some nodes' work finish, as the server's rounds would see it.
          const byId = new Map(requests.map((r) => [r.taskId, r]));
          const added = new Map<string, number>();
          const addedMemory = new Map<string, number>();
          for (const a of kept.assignments) {
            added.set(a.node, (added.get(a.node) ?? 0) + byId.get(a.taskId)!.resources.cpuMillis);
            addedMemory.set(a.node, (addedMemory.get(a.node) ?? 0) + byId.get(a.taskId)!.resources.memoryBytes);
            const perNode = placed.get(byId.get(a.taskId)!.groupKey) ?? new Map<string, number>();
            perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);
            placed.set(byId.get(a.taskId)!.groupKey, perNode);
          }
          const freed = new Set(frees.map((f) => nodes[(f + round) % Math.max(1, nodes.length)]?.name));
          nodes = nodes.map((n) => {
            const cpu = freed.has(n.name) ? 0 : n.allocated.cpuMillis + (added.get(n.name) ?? 0);
            const memoryBytes = freed.has(n.name) ? 0 : n.allocated.memoryBytes + (addedMemory.get(n.name) ?? 0);
            return cpu === n.allocated.cpuMillis && memoryBytes === n.allocated.memoryBytes ? n : { ...n, allocated: { cpuMillis: cpu, memoryBytes } };
          });
        });
      }),
      { numRuns: 300 },
    );
  });
});
