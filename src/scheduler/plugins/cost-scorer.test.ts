import { describe, expect, it } from 'vitest';
import { Cycle } from '../framework/cycle-state.js';
import type { PlacementRequest, SnapshotNode, TransferPricing } from '../framework/snapshot.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { computeCost, costScorer } from './cost-scorer.js';
import { LIST_TRANSFER_RATES } from './transfer-pricing.js';

const HOUR = 3_600_000;
const GB = 1e9;

// The node the task is scored on: $0.40/h, 4 cores, 8Gi, aws eu-west-1 zone a.
const target = (): ReturnType<typeof aNode> => aNode().named('target').withPrice(0.4).withCpu(4).withMemory('8Gi').inProvider('aws').inRegion('eu-west-1').inZone('eu-west-1a');

// Where a task's inputs may live.
const sameZone = aNode().named('same-zone').inProvider('aws').inRegion('eu-west-1').inZone('eu-west-1a').build();
const otherZone = aNode().named('other-zone').inProvider('aws').inRegion('eu-west-1').inZone('eu-west-1b').build();
const otherRegion = aNode().named('other-region').inProvider('aws').inRegion('eu-central-1').inZone('eu-central-1a').build();
const otherProvider = aNode().named('other-provider').inProvider('gcp').inRegion('europe-west1').inZone('europe-west1-b').build();
const sources = [sameZone, otherZone, otherRegion, otherProvider];

interface Row {
  readonly name: string;
  readonly node: SnapshotNode;
  readonly task: PlacementRequest;
  readonly compute: number;
  readonly transfer: number;
  readonly detail: string;
}

describe('costScorer', () => {
  it.each<Row>([
    {
      name: 'price x cpu share x duration: a quarter of a $0.40/h node for 30 min',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).build(),
      compute: 0.05,
      transfer: 0,
      detail: '$0.0500 compute at $0.4/h',
    },
    {
      name: 'the whole node for an hour',
      node: target().build(),
      task: aRequest().withCpu(4).withMemory('8Gi').lasting(HOUR).build(),
      compute: 0.4,
      transfer: 0,
      detail: '$0.4000 compute at $0.4/h',
    },
    {
      name: 'the memory share dominates when it is larger',
      node: target().build(),
      task: aRequest().withCpu('500m').withMemory('6Gi').lasting(HOUR).build(),
      compute: 0.3,
      transfer: 0,
      detail: '$0.3000 compute at $0.4/h',
    },
    {
      name: 'the cpu share dominates when it is larger',
      node: target().build(),
      task: aRequest().withCpu(2).withMemory('1Gi').lasting(2 * HOUR).build(),
      compute: 0.4,
      transfer: 0,
      detail: '$0.4000 compute at $0.4/h',
    },
    {
      name: 'a share above the whole node counts as the whole node',
      node: target().build(),
      task: aRequest().withCpu(8).withMemory('1Gi').lasting(HOUR).build(),
      compute: 0.4,
      transfer: 0,
      detail: '$0.4000 compute at $0.4/h',
    },
    {
      name: 'a free node costs nothing',
      node: target().withPrice(0).build(),
      task: aRequest().withCpu(1).lasting(HOUR).build(),
      compute: 0,
      transfer: 0,
      detail: '$0.0000 compute at $0/h',
    },
    {
      name: 'inputs on the node itself move nothing',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'target', bytes: 10 * GB }).build(),
      compute: 0.05,
      transfer: 0,
      detail: '$0.0500 compute at $0.4/h',
    },
    {
      name: 'inputs in the same zone move for free',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'same-zone', bytes: 10 * GB }).build(),
      compute: 0.05,
      transfer: 0,
      detail: '$0.0500 compute at $0.4/h',
    },
    {
      name: 'inputs in another zone',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'other-zone', bytes: 10 * GB }).build(),
      compute: 0.05,
      transfer: 10 * LIST_TRANSFER_RATES.crossZone,
      detail: '$0.0500 compute at $0.4/h + $0.1000 transfer',
    },
    {
      name: 'inputs in another region',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'other-region', bytes: 10 * GB }).build(),
      compute: 0.05,
      transfer: 10 * LIST_TRANSFER_RATES.crossRegion,
      detail: '$0.0500 compute at $0.4/h + $0.2000 transfer',
    },
    {
      name: 'inputs on another provider',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'other-provider', bytes: 1 * GB }).build(),
      compute: 0.05,
      transfer: LIST_TRANSFER_RATES.internet,
      detail: '$0.0500 compute at $0.4/h + $0.0900 transfer',
    },
    {
      name: 'inputs on a node that left the snapshot are priced as internet transfer',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'gone', bytes: 2 * GB }).build(),
      compute: 0.05,
      transfer: 2 * LIST_TRANSFER_RATES.internet,
      detail: '$0.0500 compute at $0.4/h + $0.1800 transfer',
    },
    {
      name: 'several inputs add up',
      node: target().build(),
      task: aRequest()
        .withCpu(1)
        .withMemory('1Gi')
        .lasting(HOUR / 2)
        .withInputs({ node: 'target', bytes: 5 * GB }, { node: 'other-zone', bytes: 3 * GB }, { node: 'other-provider', bytes: 1 * GB })
        .build(),
      compute: 0.05,
      transfer: 3 * LIST_TRANSFER_RATES.crossZone + LIST_TRANSFER_RATES.internet,
      detail: '$0.0500 compute at $0.4/h + $0.1200 transfer',
    },
    {
      name: 'an empty input list moves nothing',
      node: target().build(),
      task: aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs().build(),
      compute: 0.05,
      transfer: 0,
      detail: '$0.0500 compute at $0.4/h',
    },
  ])('$name', ({ node, task, compute, transfer, detail }) => {
    const cycle = new Cycle(aSnapshot([node, ...sources]));
    const cost = computeCost(cycle, task, node);
    expect(cost.compute).toBeCloseTo(compute, 12);
    expect(cost.transfer).toBeCloseTo(transfer, 12);
    expect(costScorer.score(cycle, task, node)).toBeCloseTo(compute + transfer, 12);
    expect(costScorer.describe?.(cycle, task, node, cost.total)).toBe(detail);
  });

  it('uses the snapshot pricing when it has one', () => {
    const calls: string[] = [];
    const flat: TransferPricing = {
      perGb(from, to) {
        calls.push(`${from.name}->${to.name}`);
        return 0.5;
      },
    };
    const node = target().build();
    const task = aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR / 2).withInputs({ node: 'same-zone', bytes: 4 * GB }).build();
    const cycle = new Cycle(aSnapshot([node, ...sources], 0, { pricing: flat }));
    expect(computeCost(cycle, task, node)).toEqual({ compute: 0.05, transfer: 2, total: 2.05 });
    expect(calls).toEqual(['same-zone->target']);
  });

  it('ranks a cheaper node lower (better) for the same task', () => {
    const cheap = target().named('cheap').withPrice(0.1).build();
    const dear = target().named('dear').withPrice(0.3).build();
    const cycle = new Cycle(aSnapshot([cheap, dear]));
    const task = aRequest().withCpu(1).withMemory('1Gi').lasting(HOUR).build();
    expect(costScorer.score(cycle, task, cheap)).toBeCloseTo(0.025, 12);
    expect(costScorer.score(cycle, task, dear)).toBeCloseTo(0.075, 12);
  });

  // Direction matters once a price book charges egress at the source: the data flows into the task's node.
  it('prices inputs from a node that left as coming from nowhere into the task node', () => {
    const seen: { from: string; to: string }[] = [];
    const recording: TransferPricing = {
      perGb(from, to) {
        seen.push({ from: `${from.provider}/${from.region}`, to: `${to.provider}/${to.region}` });
        return LIST_TRANSFER_RATES.internet;
      },
    };
    const node = target().build();
    const task = aRequest().withInputs({ node: 'gone', bytes: GB }).build();
    computeCost(new Cycle(aSnapshot([node], 0, { pricing: recording })), task, node);
    expect(seen).toEqual([{ from: '/', to: 'aws/eu-west-1' }]);
  });

  it('lets twice the cheapest cost score 0 at most (minSpan is the best cost)', () => {
    expect(costScorer.minSpan?.(0.05)).toBe(0.05);
  });
});
