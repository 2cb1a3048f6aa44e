import type { NodeRecord } from '../../../src/core/types';

// What the fleet map draws: nodes grouped by where they stand (provider, region, site), each
// group's health and capacity, and groups that would overlap at the map's scale merged into one
// marker. Pure functions, so the grouping is tested without a browser.

export type Health = 'healthy' | 'degraded' | 'down';

export interface Site {
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
  readonly health: Health;
}

/** Nodes that say where they are, grouped by site; nodes without coordinates are left out (counted by the caller). */
export function groupSites(nodes: readonly NodeRecord[]): Site[] {
  const groups = new Map<string, NodeRecord[]>();
  for (const node of nodes) {
    if (node.lat === null || node.lon === null) continue;
    const key = `${node.provider}/${node.region}/${node.site}`;
    const list = groups.get(key);
    if (list) list.push(node);
    else groups.set(key, [node]);
  }
  return [...groups.entries()].map(([key, members]): Site => {
    const first = members[0]!;
    const ready = members.filter((n) => n.state === 'ready').length;
    const up = members.filter((n) => n.state !== 'unreachable' && n.state !== 'down' && n.state !== 'left').length;
    return {
      key, provider: first.provider, region: first.region, site: first.site, jurisdiction: first.jurisdiction,
      lat: mean(members.map((n) => n.lat!)), lon: mean(members.map((n) => n.lon!)),
      nodes: members.length, ready,
      cpuMillis: sum(members.map((n) => n.capacity.cpuMillis)),
      usedCpuMillis: sum(members.map((n) => n.usage.cpuMillis)),
      health: ready === members.length ? 'healthy' : up === 0 ? 'down' : 'degraded',
    };
  }).sort((a, b) => a.key.localeCompare(b.key));
}

export interface Marker {
  readonly x: number;
  readonly y: number;
  readonly sites: readonly Site[];
  readonly nodes: number;
  readonly cpuMillis: number;
  readonly health: Health;
}

/**
 * Merges sites whose projected points lie within `radius` pixels of a marker already placed (the
 * biggest sites claim first), so a dense region becomes one marker with a count. Grid-bucketed:
 * linear in the number of sites.
 */
export function clusterMarkers(sites: readonly Site[], project: (lon: number, lat: number) => readonly [number, number] | null, radius: number): Marker[] {
  const placed: { x: number; y: number; sites: Site[] }[] = [];
  const grid = new Map<string, number[]>();
  const cell = (x: number, y: number) => `${Math.floor(x / radius)},${Math.floor(y / radius)}`;
  for (const site of [...sites].sort((a, b) => b.cpuMillis - a.cpuMillis || a.key.localeCompare(b.key))) {
    const point = project(site.lon, site.lat);
    if (point === null) continue;
    const [x, y] = point;
    let home: number | undefined;
    const cx = Math.floor(x / radius);
    const cy = Math.floor(y / radius);
    search: for (let dx = -1; dx <= 1; dx += 1) {
      for (let dy = -1; dy <= 1; dy += 1) {
        for (const i of grid.get(`${cx + dx},${cy + dy}`) ?? []) {
          const m = placed[i]!;
          if (Math.hypot(m.x - x, m.y - y) <= radius) {
            home = i;
            break search;
          }
        }
      }
    }
    if (home !== undefined) {
      placed[home]!.sites.push(site);
      continue;
    }
    placed.push({ x, y, sites: [site] });
    const key = cell(x, y);
    grid.set(key, [...(grid.get(key) ?? []), placed.length - 1]);
  }
  return placed.map((m) => ({
    x: m.x, y: m.y, sites: m.sites,
    nodes: sum(m.sites.map((s) => s.nodes)),
    cpuMillis: sum(m.sites.map((s) => s.cpuMillis)),
    health: worst(m.sites.map((s) => s.health)),
  }));
}

function worst(healths: readonly Health[]): Health {
  if (healths.includes('down')) return healths.every((h) => h === 'down') ? 'down' : 'degraded';
  return healths.includes('degraded') ? 'degraded' : 'healthy';
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}
