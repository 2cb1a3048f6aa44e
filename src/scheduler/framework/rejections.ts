import type { NodeRejection } from './explanation.js';
import type { CycleState } from './cycle-state.js';
import type { FilterPlugin } from './plugin.js';
import type { PlacementRequest, SnapshotNode } from './snapshot.js';
import { formatSummaryCounts, REASON_CODES, REASON_INDEX, type ReasonCode, type ReasonCounts, type SummaryCounts, type Unschedulable, unplacedMessage } from './status.js';

/**
 * Why nodes were turned down for one placement class: exact counts per reason code and per
 * summary phrase, and a few examples per reason. Explanations hold on to the counts and samples;
 * they are rebuilt only after a new rejection, so thousands of tasks share a handful of objects.
 */
export class Rejections {
  private readonly counts: Int32Array;
  private readonly sampleCounts: Int32Array;
  private readonly summaries: Map<string, { reason: ReasonCode; count: number }>;
  private readonly samples: NodeRejection[];
  private version = 0;
  private cached: { version: number; reasons: ReasonCounts; samples: readonly NodeRejection[]; summary: string } | undefined;

  constructor(
    private readonly maxPerReason: number,
    from?: Rejections,
  ) {
    this.counts = from === undefined ? new Int32Array(REASON_CODES.length) : from.counts.slice();
    this.sampleCounts = from === undefined ? new Int32Array(REASON_CODES.length) : from.sampleCounts.slice();
    this.summaries = new Map([...(from?.summaries ?? [])].map(([phrase, entry]) => [phrase, { ...entry }]));
    this.samples = from === undefined ? [] : from.samples.slice();
  }

  /** A copy that can take more rejections without changing this one. */
  fork(): Rejections {
    return new Rejections(this.maxPerReason, this);
  }

  /** Counts a node the filter turned down; its words are built only if it is kept as an example. */
  add(cycle: CycleState, task: PlacementRequest, node: SnapshotNode, filter: FilterPlugin, status: Unschedulable): void {
    const reason = REASON_INDEX[status.reason];
    this.counts[reason]! += 1;
    const summary = this.summaries.get(status.summary);
    if (summary === undefined) this.summaries.set(status.summary, { reason: status.reason, count: 1 });
    else summary.count += 1;
    if (this.sampleCounts[reason]! < this.maxPerReason) {
      this.sampleCounts[reason]! += 1;
      const message = filter.explain?.(cycle, task, node, status) ?? status.message;
      this.samples.push({ node: node.name, plugin: filter.name, reason: status.reason, message });
    }
    this.version += 1;
  }

  /** Counts `count` nodes turned down for one status at once; `examples` are offered as samples. */
  addMany(cycle: CycleState, task: PlacementRequest, filter: FilterPlugin, status: Unschedulable, count: number, examples: readonly SnapshotNode[]): void {
    if (count <= 0) return;
    const reason = REASON_INDEX[status.reason];
    this.counts[reason]! += count;
    const summary = this.summaries.get(status.summary);
    if (summary === undefined) this.summaries.set(status.summary, { reason: status.reason, count });
    else summary.count += count;
    for (const node of examples) {
      if (this.sampleCounts[reason]! >= this.maxPerReason) break;
      this.sampleCounts[reason]! += 1;
      this.samples.push({ node: node.name, plugin: filter.name, reason: status.reason, message: filter.explain?.(cycle, task, node, status) ?? status.message });
    }
    this.version += 1;
  }

  reasons(): ReasonCounts {
    return this.cachedParts().reasons;
  }

  samplesShown(): readonly NodeRejection[] {
    return this.cachedParts().samples;
  }

  summaryCounts(): SummaryCounts {
    return this.summaries;
  }

  /** `22 jurisdiction not in [EU], 6 untolerated taint edge`, or '' when nothing was turned down. */
  summary(): string {
    return this.cachedParts().summary;
  }

  unplacedMessage(nodeCount: number): string {
    return unplacedMessage(nodeCount, this.summaries);
  }

  /** Rough memory held, for cache budgets. */
  approximateBytes(): number {
    return 200 + this.samples.length * 200 + this.summaries.size * 100;
  }

  private cachedParts(): { reasons: ReasonCounts; samples: readonly NodeRejection[]; summary: string } {
    if (this.cached === undefined || this.cached.version !== this.version) {
      const reasons: Partial<Record<ReasonCode, number>> = {};
      REASON_CODES.forEach((code, i) => {
        if (this.counts[i]! > 0) reasons[code] = this.counts[i]!;
      });
      this.cached = { version: this.version, reasons, samples: this.samples.slice(), summary: formatSummaryCounts(this.summaries) };
    }
    return this.cached;
  }
}
