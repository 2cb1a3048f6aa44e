import type { SiteHealth, SiteSummary } from '../../../src/core/fleet-summary';

// What the fleet map draws: the sites the control plane summed up (core/fleet-summary.ts), and
// sites that would overlap at the map's current scale merged into one marker. Pure, so the
// merging is tested without a browser.

export interface Marker {
  readonly x: number;
  readonly y: number;
  readonly sites: readonly SiteSummary[];
  readonly nodes: number;
  readonly cpuMillis: number;
  readonly health: SiteHealth;
}

/**
 * Merges sites whose projected points lie within `radius` pixels of a marker already placed (the
 * biggest sites claim first), so a dense region becomes one marker with a count. Grid-bucketed:
 * linear in the number of sites.
 */
export function clusterMarkers(sites: readonly SiteSummary[], project: (lon: number, lat: number) => readonly [number, number] | null, radius: number): Marker[] {
  const placed: { x: number; y: number; sites: SiteSummary[] }[] = [];
  const grid = new Map<string, number[]>();
  for (const site of [...sites].sort((a, b) => b.cpuMillis - a.cpuMillis || (a.key < b.key ? -1 : 1))) {
    const point = project(site.lon, site.lat);
    if (point === null) continue;
    const [x, y] = point;
    const cx = Math.floor(x / radius);
    const cy = Math.floor(y / radius);
    let home: number | undefined;
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
    const cell = `${cx},${cy}`;
    grid.set(cell, [...(grid.get(cell) ?? []), placed.length - 1]);
  }
  return placed.map((m) => ({
    x: m.x, y: m.y, sites: m.sites,
    nodes: m.sites.reduce((n, s) => n + s.nodes, 0),
    cpuMillis: m.sites.reduce((n, s) => n + s.cpuMillis, 0),
    health: worst(m.sites.map((s) => s.health)),
  }));
}

function worst(healths: readonly SiteHealth[]): SiteHealth {
  if (healths.includes('down')) return healths.every((h) => h === 'down') ? 'down' : 'degraded';
  return healths.includes('degraded') ? 'degraded' : 'healthy';
}
