import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NODE_STATES } from '../core/states.js';
import { ROUTE_KINDS, routeKind, type TransferEnd } from '../core/transfers.js';
import type { ChargeKind } from '../core/spend.js';
import type { EventRecord, NodeRecord, TaskCounts } from '../core/types.js';
import type { EventBus } from './event-bus.js';
import type { RoundReport } from './loops/scheduling-loop.js';

// The control plane's Prometheus metrics (served at GET /metrics; docs/metrics.md lists them).
// One registry per server, not prom-client's global one, so servers started in one process
// (tests) keep their own figures. Current state (nodes, tasks) is read at scrape time; counts
// come from committed events and from the hooks of the scheduling loop and the agent handler.

/** What the metrics read from the control plane: live state at scrape time and its committed events. */
export interface MetricsSource {
  readonly bus: EventBus;
  listNodes(): readonly Pick<NodeRecord, 'state' | 'provider'>[];
  activeTaskCounts(): TaskCounts;
}

export type SpendKind = ChargeKind;

/** From 5 ms to an hour: a task may be placed in the round after its submit or wait long for capacity. */
const PLACEMENT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Rounds take well under a millisecond for a few tasks and tens of ms for 2,000 (docs/architecture.md). */
const ROUND_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ServerMetrics {
  readonly registry = new Registry();
  private source: MetricsSource | undefined;
  private readonly placements: Counter;
  private readonly placementLatency: Histogram;
  private readonly rounds: Counter<'outcome'>;
  private readonly roundDuration: Histogram;
  private readonly heartbeats: Counter;
  private readonly transferBytes: Counter<'route'>;
  private readonly transfers: Counter<'route'>;
  private readonly spend: Counter<'namespace' | 'provider' | 'kind'>;

  /** `processMetrics` adds prom-client's process and Node.js metrics (CPU, memory, event loop, GC). */
  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const nodes: Gauge<'state' | 'provider'> = new Gauge({
      name: 'atoll_nodes', help: 'Nodes known to the control plane, by state and provider.', labelNames: ['state', 'provider'], registers,
      collect: () => {
        nodes.reset();
        const records = this.source?.listNodes() ?? [];
        // Every state of every provider seen, so a state with no nodes reads 0 rather than missing.
        for (const provider of new Set(records.map((n) => n.provider))) for (const state of NODE_STATES) nodes.set({ state, provider }, 0);
        for (const node of records) nodes.inc({ state: node.state, provider: node.provider });
      },
    });
    const tasks: Gauge<'state'> = new Gauge({
      name: 'atoll_tasks', help: 'Tasks of the jobs not finished yet, by state.', labelNames: ['state'], registers,
      collect: () => {
        tasks.reset();
        const counts = this.source?.activeTaskCounts();
        if (counts !== undefined) for (const [state, count] of Object.entries(counts)) tasks.set({ state }, count);
      },
    });
    this.placements = new Counter({ name: 'atoll_placements_total', help: 'Tasks placed on a node (task.placed events committed).', registers });
    this.placementLatency = new Histogram({
      name: 'atoll_placement_latency_seconds', help: 'Seconds from a task becoming ready (created, or its retry due) to the scheduling round that placed it.',
      buckets: PLACEMENT_LATENCY_BUCKETS, registers,
    });
    this.rounds = new Counter({ name: 'atoll_scheduler_rounds_total', help: 'Scheduling rounds that looked at ready tasks, by outcome (ok, or failed: nothing placed).', labelNames: ['outcome'], registers });
    this.roundDuration = new Histogram({
      name: 'atoll_scheduler_round_duration_seconds', help: 'Wall time of a scheduling round: snapshot, engine, plan check and recording the placements.',
      buckets: ROUND_DURATION_BUCKETS, registers,
    });
    this.heartbeats = new Counter({ name: 'atoll_heartbeats_total', help: 'Heartbeats received from agents.', registers });
    this.transferBytes = new Counter({ name: 'atoll_transfer_bytes_total', help: 'Bytes of task inputs moved between nodes, by the widest boundary crossed.', labelNames: ['route'], registers });
    this.transfers = new Counter({ name: 'atoll_transfers_total', help: 'Transfers of task inputs between nodes, by the widest boundary crossed.', labelNames: ['route'], registers });
    this.spend = new Counter({ name: 'atoll_spend_dollars_total', help: 'Dollars spent, by namespace, provider and kind (compute or transfer).', labelNames: ['namespace', 'provider', 'kind'], registers });
    // Known label values start at 0, so rate() sees the first increase.
    for (const outcome of ['ok', 'failed']) this.rounds.inc({ outcome }, 0);
    for (const route of ROUTE_KINDS) {
      this.transferBytes.inc({ route }, 0);
      this.transfers.inc({ route }, 0);
    }
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** Reads the source's live state at each scrape and counts its committed events; returns a function that stops counting. */
  watch(source: MetricsSource): () => void {
    this.source = source;
    const stopEvents = source.bus.onEvents((events) => this.countEvents(events));
    const stopCharges = source.bus.onCharges((charges) => {
      for (const charge of charges) this.recordSpend(charge.namespace, charge.provider, charge.kind, charge.dollars);
    });
    return () => {
      stopEvents();
      stopCharges();
    };
  }

  private countEvents(events: readonly EventRecord[]): void {
    for (const event of events) {
      if (event.type === 'task.placed') this.placements.inc();
      else if (event.type === 'transfer.completed') {
        const route = routeKind(event.data.from as TransferEnd, event.data.to as TransferEnd);
        this.transferBytes.inc({ route }, Number(event.data.bytes));
        this.transfers.inc({ route });
      }
    }
  }

  /** Fed by the scheduling loop's onRound. */
  round(report: RoundReport): void {
    this.rounds.inc({ outcome: report.ok ? 'ok' : 'failed' });
    this.roundDuration.observe(report.durationMs / 1000);
    for (const waitMs of report.waitsMs) this.placementLatency.observe(waitMs / 1000);
  }

  /** Fed by the control plane's onHeartbeat. */
  heartbeat(): void {
    this.heartbeats.inc();
  }

  /** Money spent, from each committed charge of the spend ledger. Refuses negative or non-finite amounts: a counter only goes up. */
  recordSpend(namespace: string, provider: string, kind: SpendKind, dollars: number): void {
    if (!Number.isFinite(dollars) || dollars < 0) throw new RangeError(`spend must be a finite, non-negative number of dollars, got ${dollars}`);
    this.spend.inc({ namespace, provider, kind }, dollars);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The registry in the text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
