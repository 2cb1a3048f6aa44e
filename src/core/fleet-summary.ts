import type { NodeRecord } from './types.js';

// The fleet at a glance, as the dashboard's overview and map show it: node counts by state,
// provider and region, and nodes grouped by where they stand (provider, region, site) with each
// site's health and capacity. Computed on the control plane, so a page never downloads 10,000
// node records to draw a few hundred markers.

export type SiteHealth = 'healthy' | 'degraded' | 'down';

export interface SiteSummary {
  readonly key: string;
  readonly provider: string;
  readonly region: string;
  readonly site: string;
  readonly jurisdiction: string | null;
  readonly lat: number;
  readonly lon: number;
  readonly nodes: number;
  readonly ready: number;
  readonly cpuMillis: number;
  readonly usedCpuMillis: number;
  readonly runningAttempts: number;
  readonly health: SiteHealth;
}

export interface FleetSummary {
  readonly nodes: number;
  /** Counts, largest first. */
  readonly byState: readonly (readonly [string, number])[];
  readonly byProvider: readonly (readonly [string, number])[];
  readonly byRegion: readonly (readonly [string, number])[];
  readonly sites: readonly SiteSummary[];
  /** Nodes that did not say where they are (no lat/lon), so on no site. */
  readonly unplaced: number;
}

const GONE = new Set(['unreachable', 'down', 'left']);

export function summarizeFleet(nodes: readonly NodeRecord[]): FleetSummary {
  return {
    nodes: nodes.length,
    byState: countBy(nodes, (n) => n.state),
    byProvider: countBy(nodes, (n) => n.provider),
    byRegion: countBy(nodes, (n) => n.region),
    sites: groupSites(nodes),
    unplaced: nodes.filter((n) => n.lat === null || n.lon === null).length,
  };
}

/** Nodes that say where they are, grouped by provider, region and site. */
export function groupSites(nodes: readonly NodeRecord[]): SiteSummary[] {
  const groups = new Map<string, NodeRecord[]>();
  for (const node of nodes) {
    if (node.lat === null || node.lon === null) continue;
    const key = `${node.provider}/${node.region}/${node.site}`;
    const list = groups.get(key);
    if (list) list.push(node);
    else groups.set(key, [node]);
  }
  return [...groups.entries()].map(([key, members]): SiteSummary => {
    const first = members[0]!;
    const ready = members.filter((n) => n.state === 'ready').length;
    const up = members.filter((n) => !GONE.has(n.state)).length;
    return {
      key, provider: first.provider, region: first.region, site: first.site, jurisdiction: first.jurisdiction,
      lat: mean(members.map((n) => n.lat!)), lon: mean(members.map((n) => n.lon!)),
      nodes: members.length, ready,
      cpuMillis: sum(members.map((n) => n.capacity.cpuMillis)),
      usedCpuMillis: sum(members.map((n) => n.usage.cpuMillis)),
      runningAttempts: sum(members.map((n) => n.usage.runningAttempts)),
      health: ready === members.length ? 'healthy' : up === 0 ? 'down' : 'degraded',
    };
  }).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function countBy<T>(items: readonly T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}
