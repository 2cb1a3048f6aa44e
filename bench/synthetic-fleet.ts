import { KNOWN_REGIONS } from '../src/core/known-regions.js';
import { type PlacementSpecInput, placementSpecSchema, type Toleration } from '../src/core/placement-spec.js';
import { parsePolicySpec, type PolicySpec } from '../src/core/policy-spec.js';
import { seededRandom } from '../src/scheduler/framework/random.js';
import type { PlacementRequest, SnapshotNode } from '../src/scheduler/engine.js';

// A synthetic world for the scheduler benchmark: cloud regions of four providers at their real
// cities, a thousand edge sites of two private edge networks scattered around them, and jobs
// that mix residency, label selectors, tolerations, spread, latency and cost objectives.
// Everything comes from one seed, so runs are comparable.

const GiB = 2 ** 30;
const MiB = 2 ** 20;

export interface FleetOptions {
  readonly nodes: number;
  readonly edgeSites: number;
  /** Share of nodes that are edge boxes. */
  readonly edgeShare: number;
  readonly seed: number;
}

export interface Region {
  readonly provider: string;
  readonly name: string;
  readonly jurisdiction: string;
  readonly lat: number;
  readonly lon: number;
}

export function cloudRegions(count: number): Region[] {
  const all = Object.entries(KNOWN_REGIONS).map(([name, r]) => ({ provider: r.provider, name, jurisdiction: r.jurisdiction, lat: r.lat, lon: r.lon }));
  // Interleave providers so any prefix of the list mixes them.
  const byProvider = new Map<string, Region[]>();
  for (const r of all) byProvider.set(r.provider, [...(byProvider.get(r.provider) ?? []), r]);
  const mixed: Region[] = [];
  for (let i = 0; mixed.length < all.length; i++) for (const list of byProvider.values()) if (list[i] !== undefined) mixed.push(list[i]!);
  return mixed.slice(0, count);
}

export function syntheticFleet(options: FleetOptions): SnapshotNode[] {
  const random = seededRandom(options.seed);
  const regions = cloudRegions(40);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const edgeNodes = Math.round(options.nodes * options.edgeShare);
  const sites = Array.from({ length: options.edgeSites }, (_, i) => {
    const home = pick(regions);
    return {
      name: `site-${String(i).padStart(4, '0')}`,
      provider: i % 2 === 0 ? 'shopnet' : 'factorynet',
      region: home.name,
      jurisdiction: home.jurisdiction,
      lat: home.lat + (random() - 0.5) * 4,
      lon: home.lon + (random() - 0.5) * 4,
    };
  });
  const nodes: SnapshotNode[] = [];
  for (let i = 0; i < options.nodes; i++) {
    const edge = i < edgeNodes;
    if (edge) {
      const site = sites[i % sites.length]!;
      nodes.push({
        name: `edge-${i}`, state: 'ready', labels: { tier: 'edge', arch: i % 3 === 0 ? 'arm64' : 'amd64' }, taints: [{ key: 'edge' }], rttMs: {},
        capacity: { cpuMillis: 4000, memoryBytes: 16 * GiB }, allocated: { cpuMillis: 0, memoryBytes: 0 },
        provider: site.provider, region: site.region, zone: site.name, site: site.name, kind: 'edge',
        jurisdiction: site.jurisdiction, lat: site.lat, lon: site.lon, priceHour: 0.02,
      });
      continue;
    }
    const region = regions[i % regions.length]!;
    const zone = `${region.name}-${'abc'[Math.floor(random() * 3)]}`;
    const big = random() < 0.3;
    nodes.push({
      name: `${region.provider}-${i}`, state: 'ready', labels: { tier: big ? 'bulk' : 'standard', arch: random() < 0.2 ? 'arm64' : 'amd64' }, taints: [], rttMs: {},
      capacity: { cpuMillis: big ? 32_000 : 16_000, memoryBytes: (big ? 128 : 64) * GiB }, allocated: { cpuMillis: 0, memoryBytes: 0 },
      provider: region.provider, region: region.name, zone, site: '', kind: region.provider === 'hetzner' ? 'onprem' : 'cloud',
      jurisdiction: region.jurisdiction, lat: region.lat, lon: region.lon,
      priceHour: Number(((region.provider === 'hetzner' ? 0.03 : 0.048) * (big ? 32 : 16) * (0.8 + random() * 0.4)).toFixed(3)),
    });
  }
  return nodes;
}

/** Cluster policies of the kind admins set: no work in one country, a namespace held to two providers. */
export function syntheticPolicies(): PolicySpec[] {
  return [
    parsePolicySpec({ name: 'sanctions', denyJurisdictions: ['RU', 'BY'] }),
    parsePolicySpec({ name: 'finance-clouds', namespaces: ['finance'], allowProviders: ['aws', 'gcp', 'hetzner'] }),
    parsePolicySpec({ name: 'gdpr', residencyClasses: { 'eu-personal': ['EU', 'EEA'] }, jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } }),
  ];
}

export interface JobTemplate {
  readonly namespace: string;
  readonly placement: PlacementRequest['placement'];
  readonly tolerations: readonly Toleration[];
  readonly resources: PlacementRequest['resources'];
}

const METROS = [
  { lat: 48.86, lon: 2.35 }, { lat: 51.51, lon: -0.13 }, { lat: 52.52, lon: 13.4 }, { lat: 40.71, lon: -74.0 }, { lat: 37.77, lon: -122.42 },
  { lat: 35.68, lon: 139.69 }, { lat: 1.35, lon: 103.82 }, { lat: -33.87, lon: 151.21 }, { lat: 19.08, lon: 72.88 }, { lat: -23.55, lon: -46.63 },
  { lat: 41.9, lon: 12.5 }, { lat: 59.33, lon: 18.07 }, { lat: 43.65, lon: -79.38 }, { lat: 25.2, lon: 55.27 }, { lat: 37.57, lon: 126.98 },
];

/**
 * `count` job shapes, mixing every placement feature. Real clusters run many jobs from fewer
 * shapes (pipelines submitted again and again), so jobs are drawn from these.
 */
export function jobTemplates(count: number, seed: number): JobTemplate[] {
  const random = seededRandom(seed ^ 0x5eed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const weighted = <T>(entries: ReadonlyArray<readonly [number, T]>): T => {
    let r = random() * entries.reduce((s, [w]) => s + w, 0);
    for (const [w, value] of entries) if ((r -= w) < 0) return value;
    return entries[entries.length - 1]![1];
  };
  return Array.from({ length: count }, () => {
    const optimize = weighted<'balanced' | 'latency' | 'cost'>([[4, 'balanced'], [3, 'latency'], [3, 'cost']]);
    const placement: PlacementSpecInput = {
      optimize,
      ...weighted<PlacementSpecInput>([[35, {}], [25, { residency: ['EU'] }], [15, { residency: ['US'] }], [10, { residency: ['EEA'] }], [10, { residency: ['APAC'] }], [5, { residency: ['DACH'] }]]),
      require: weighted<NonNullable<PlacementSpecInput['require']>>([[70, []], [20, [{ key: 'tier', operator: 'In', values: ['standard', 'bulk'] }]], [10, [{ key: 'arch', operator: 'In', values: ['amd64'] }]]]),
      ...weighted<PlacementSpecInput>([[60, {}], [20, { spread: { across: 'provider' } }], [13, { spread: { across: 'region', maxSkew: 2 } }], [5, { spread: { across: 'zone' } }], [2, { spread: { across: 'site', maxSkew: 5 } }]]),
      ...(optimize === 'latency' || random() < 0.3 ? { near: { users: Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(METROS)) } } : {}),
      ...(random() < 0.15 ? { avoid: { providers: [pick(['aws', 'gcp', 'azure'])] } } : {}),
      ...(random() < 0.2 ? { prefer: [{ weight: 5, match: { key: 'tier', operator: 'In', values: ['bulk'] } }] } : {}),
    };
    return {
      namespace: weighted([[6, 'default'], [2, 'finance'], [2, 'analytics']]),
      placement: placementSpecSchema.parse(placement),
      tolerations: random() < 0.2 ? [{ key: 'edge' }] : [],
      resources: { cpuMillis: pick([100, 250, 500, 1000]), memoryBytes: pick([64, 256, 512, 1024]) * MiB },
    };
  });
}

/** Requests of one job: `tasks` tasks sharing the template's spec objects, as the server builds them. */
export function jobRequests(jobId: string, template: JobTemplate, tasks: number): PlacementRequest[] {
  return Array.from({ length: tasks }, (_, i) => ({
    taskId: `${jobId}.${i}`, jobId, groupKey: jobId, namespace: template.namespace, resources: template.resources,
    placement: template.placement, tolerations: template.tolerations, expectedDurationMs: 3_600_000,
  }));
}
