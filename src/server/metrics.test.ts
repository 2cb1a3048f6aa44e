import { describe, expect, it } from 'vitest';
import { Scrape } from '../../test/harness/prometheus-text.js';
import type { NodeState } from '../core/states.js';
import type { EventRecord, EventType, TaskCounts } from '../core/types.js';
import { EventBus } from './event-bus.js';
import { type MetricsSource, ServerMetrics } from './metrics.js';

// The metrics on their own: a stand-in control plane (a real event bus, node and task figures
// the test sets), scraped through the registry and read back with a real text-format parser.

class FakePlane implements MetricsSource {
  readonly bus = new EventBus();
  nodes: { state: NodeState; provider: string }[] = [];
  tasks: TaskCounts = { pending: 0, assigned: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  private seq = 0;

  listNodes() {
    return this.nodes;
  }

  activeTaskCounts(): TaskCounts {
    return this.tasks;
  }

  publish(type: EventType, data: Record<string, unknown> = {}): void {
    this.seq += 1;
    const event: EventRecord = { seq: this.seq, time: 0, type, jobId: null, taskId: null, attemptId: null, node: null, data };
    this.bus.publish([event], []);
  }
}

function watched(): { metrics: ServerMetrics; plane: FakePlane; stop: () => void } {
  const metrics = new ServerMetrics();
  const plane = new FakePlane();
  return { metrics, plane, stop: metrics.watch(plane) };
}

const scrape = async (metrics: ServerMetrics) => new Scrape(await metrics.render());

describe('ServerMetrics', () => {
  it('counts nodes by state and provider at scrape time, with 0 for the states a provider has no node in', async () => {
    const { metrics, plane } = watched();
    plane.nodes = [
      { state: 'ready', provider: 'aws' }, { state: 'ready', provider: 'aws' }, { state: 'down', provider: 'aws' }, { state: 'cordoned', provider: 'hetzner' },
    ];
    let page = await scrape(metrics);
    expect(page.family('atoll_nodes').type).toBe('GAUGE');
    expect(page.value('atoll_nodes', { state: 'ready', provider: 'aws' })).toBe(2);
    expect(page.value('atoll_nodes', { state: 'down', provider: 'aws' })).toBe(1);
    expect(page.value('atoll_nodes', { state: 'cordoned', provider: 'hetzner' })).toBe(1);
    expect(page.value('atoll_nodes', { state: 'ready', provider: 'hetzner' })).toBe(0);
    expect(page.samples('atoll_nodes')).toHaveLength(12);

    // The next scrape sees the fleet as it is then; a provider with no node left drops out.
    plane.nodes = [{ state: 'unreachable', provider: 'aws' }];
    page = await scrape(metrics);
    expect(page.value('atoll_nodes', { state: 'unreachable', provider: 'aws' })).toBe(1);
    expect(page.value('atoll_nodes', { state: 'ready', provider: 'aws' })).toBe(0);
    expect(page.samples('atoll_nodes').filter(([labels]) => labels.provider === 'hetzner')).toEqual([]);
  });

  it('reports the tasks of unfinished jobs by state', async () => {
    const { metrics, plane } = watched();
    plane.tasks = { pending: 5, assigned: 1, running: 3, succeeded: 7, failed: 2, cancelled: 0 };
    const page = await scrape(metrics);
    expect(Object.fromEntries(page.samples('atoll_tasks').map(([labels, value]) => [labels.state, value]))).toEqual(plane.tasks);
  });

  it('counts placements and transfer bytes by route kind from committed events, until stopped', async () => {
    const { metrics, plane, stop } = watched();
    const berlin = { node: 'edge-berlin', provider: 'local', region: 'de-be', site: 'berlin-shop-3' };
    const berlinToo = { node: 'edge-berlin-2', provider: 'local', region: 'de-be', site: 'berlin-shop-3' };
    const frankfurt = { node: 'aws-eu-central-1a', provider: 'aws', region: 'eu-central-1', site: '' };
    const virginia = { node: 'aws-us-east-1a', provider: 'aws', region: 'us-east-1', site: '' };
    for (let i = 0; i < 3; i += 1) plane.publish('task.placed', { epoch: 1 });
    plane.publish('transfer.completed', { bytes: 1000, from: berlin, to: frankfurt });
    plane.publish('transfer.completed', { bytes: 250, from: berlin, to: frankfurt });
    plane.publish('transfer.completed', { bytes: 40, from: frankfurt, to: virginia });
    plane.publish('transfer.completed', { bytes: 7, from: berlin, to: berlinToo });
    // A holder that has left the fleet has no location: it counts as across providers.
    plane.publish('transfer.completed', { bytes: 5, from: { node: 'gone' }, to: virginia });
    plane.publish('attempt.started', { epoch: 1 });

    let page = await scrape(metrics);
    expect(page.family('atoll_placements_total').type).toBe('COUNTER');
    expect(page.value('atoll_placements_total')).toBe(3);
    expect(Object.fromEntries(page.samples('atoll_transfer_bytes_total').map(([labels, value]) => [labels.route, value])))
      .toEqual({ 'same-site': 7, 'cross-site': 0, 'cross-region': 40, 'cross-provider': 1255 });
    expect(page.value('atoll_transfers_total', { route: 'cross-provider' })).toBe(3);

    stop();
    plane.publish('task.placed', { epoch: 2 });
    page = await scrape(metrics);
    expect(page.value('atoll_placements_total')).toBe(3);
  });

  it('counts rounds by outcome and observes their duration and each placed task\'s wait in seconds', async () => {
    const { metrics } = watched();
    let page = await scrape(metrics);
    expect(page.value('atoll_scheduler_rounds_total', { outcome: 'ok' })).toBe(0);
    expect(page.histogram('atoll_placement_latency_seconds').count).toBe(0);

    metrics.round({ durationMs: 3, ok: true, waitsMs: [0, 1500, 120_000] });
    metrics.round({ durationMs: 40, ok: true, waitsMs: [] });
    metrics.round({ durationMs: 1, ok: false, waitsMs: [] });
    page = await scrape(metrics);
    expect(page.value('atoll_scheduler_rounds_total', { outcome: 'ok' })).toBe(2);
    expect(page.value('atoll_scheduler_rounds_total', { outcome: 'failed' })).toBe(1);
    const latency = page.histogram('atoll_placement_latency_seconds');
    expect(latency).toMatchObject({ count: 3, sum: 121.5 });
    expect([latency.buckets.get('0.005'), latency.buckets.get('1'), latency.buckets.get('2.5'), latency.buckets.get('60'), latency.buckets.get('300'), latency.buckets.get('+Inf')])
      .toEqual([1, 1, 2, 2, 3, 3]);
    const rounds = page.histogram('atoll_scheduler_round_duration_seconds');
    expect(rounds.count).toBe(3);
    expect(rounds.sum).toBeCloseTo(0.044, 9);
    expect(rounds.buckets.get('0.001')).toBe(1);
    expect(rounds.buckets.get('0.005')).toBe(2);
  });

  it('counts heartbeats', async () => {
    const { metrics } = watched();
    metrics.heartbeat();
    metrics.heartbeat();
    expect((await scrape(metrics)).value('atoll_heartbeats_total')).toBe(2);
  });

  it('adds up spend by namespace, provider and kind, and refuses amounts a counter cannot take', async () => {
    const { metrics } = watched();
    metrics.recordSpend('default', 'aws', 'compute', 0.25);
    metrics.recordSpend('default', 'aws', 'compute', 0.5);
    metrics.recordSpend('default', 'aws', 'transfer', 0.09);
    metrics.recordSpend('analytics', 'hetzner', 'compute', 0);
    expect(() => metrics.recordSpend('default', 'aws', 'compute', -1)).toThrow(/non-negative/);
    expect(() => metrics.recordSpend('default', 'aws', 'compute', Number.NaN)).toThrow(/finite/);
    const page = await scrape(metrics);
    expect(page.value('atoll_spend_dollars_total', { namespace: 'default', provider: 'aws', kind: 'compute' })).toBe(0.75);
    expect(page.value('atoll_spend_dollars_total', { namespace: 'default', provider: 'aws', kind: 'transfer' })).toBe(0.09);
    expect(page.value('atoll_spend_dollars_total', { namespace: 'analytics', provider: 'hetzner', kind: 'compute' })).toBe(0);
  });

  it('keeps one registry per instance, in the Prometheus text format', async () => {
    const a = new ServerMetrics();
    const b = new ServerMetrics();
    a.heartbeat();
    expect((await scrape(a)).value('atoll_heartbeats_total')).toBe(1);
    expect((await scrape(b)).value('atoll_heartbeats_total')).toBe(0);
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    // Before it watches a control plane, the gauges have nothing to say.
    expect((await scrape(a)).samples('atoll_nodes')).toEqual([]);
  });

  it('adds the process metrics when asked', async () => {
    expect([...(await scrape(new ServerMetrics())).families.keys()].filter((name) => !name.startsWith('atoll_'))).toEqual([]);
    const page = await scrape(new ServerMetrics({ processMetrics: true }));
    expect(page.family('process_cpu_user_seconds_total').type).toBe('COUNTER');
    expect(page.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });
});
