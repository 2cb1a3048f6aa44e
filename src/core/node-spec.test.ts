import { describe, expect, it } from 'vitest';
import { AtollError } from './errors.js';
import { effectiveTaints, type NodeSpec, parseNodeSpec } from './node-spec.js';

const minimal = { name: 'edge-1', cpu: 2, memory: '4Gi' } as const;

function node(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...minimal, ...patch };
}

/** `{r0: value, r1: value, ...}`: `count` region names. */
function regions<T>(count: number, value: T, prefix = 'r'): Record<string, T> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, value]));
}

function refusal(value: unknown): AtollError {
  try {
    parseNodeSpec(value);
  } catch (error) {
    expect(error).toBeInstanceOf(AtollError);
    return error as AtollError;
  }
  throw new Error(`expected the node config to be refused: ${JSON.stringify(value)}`);
}

describe('parseNodeSpec: accepted', () => {
  it('fills defaults and normalises quantities', () => {
    expect(parseNodeSpec(minimal)).toEqual({
      name: 'edge-1',
      provider: 'local',
      region: 'local',
      zone: '',
      site: '',
      kind: 'cloud',
      cpu: 2000,
      memory: 4 * 2 ** 30,
      priceHour: 0,
      labels: {},
      rttMs: {},
    });
    // Left out, not defaulted: effectiveTaints tells an edge node that declared none from one that untainted itself.
    expect(parseNodeSpec(minimal)).not.toHaveProperty('taints');
  });

  it('keeps a full description', () => {
    const full = {
      name: 'aws-eu-west-1a',
      provider: 'aws',
      region: 'eu-west-1',
      zone: 'eu-west-1a',
      site: 'dub',
      kind: 'edge',
      jurisdiction: 'IE',
      geo: { lat: 53.35, lon: -6.26 },
      cpu: '500m',
      memory: 512 * 2 ** 20,
      priceHour: 0.17,
      labels: { tier: 'gold', 'example.com/gpu': 'a100', 'topology.zone': 'x' },
      taints: [{ key: 'edge' }, { key: 'gpu', value: 'a100' }],
      rttMs: { 'eu-west-1': 1.5, 'us-east-1': 78 },
    };
    expect(parseNodeSpec(full)).toEqual({ ...full, cpu: 500, memory: 512 * 2 ** 20 });
  });

  it.each<{ name: string; patch: Record<string, unknown>; expected: Record<string, unknown> }>([
    { name: 'cpu as a string of cores', patch: { cpu: '1.5' }, expected: { cpu: 1500 } },
    { name: 'memory in decimal units', patch: { memory: '2G' }, expected: { memory: 2e9 } },
    { name: 'onprem kind', patch: { kind: 'onprem' }, expected: { kind: 'onprem' } },
    { name: 'geo at the edges', patch: { geo: { lat: -90, lon: 180 } }, expected: { geo: { lat: -90, lon: 180 } } },
    { name: 'free node', patch: { priceHour: 0 }, expected: { priceHour: 0 } },
    { name: 'single-character label key', patch: { labels: { a: '' } }, expected: { labels: { a: '' } } },
    { name: 'no taints on an edge node', patch: { kind: 'edge', taints: [] }, expected: { kind: 'edge', taints: [] } },
    { name: 'a taint with a value', patch: { taints: [{ key: 'gpu', value: 'a100' }] }, expected: { taints: [{ key: 'gpu', value: 'a100' }] } },
    { name: 'round trips at the bounds', patch: { rttMs: { 'eu-west-1': 0, 'ap-southeast-1': 60_000 } }, expected: { rttMs: { 'eu-west-1': 0, 'ap-southeast-1': 60_000 } } },
    { name: 'fractional round trips', patch: { rttMs: { 'europe-west3': 0.4 } }, expected: { rttMs: { 'europe-west3': 0.4 } } },
    {
      name: 'probes to a DNS name, an IPv4 and an IPv6 address',
      patch: { probes: { 'eu-west-1': 'probe.eu-west-1.example.com:443', 'us-east-1': '10.0.0.7:80', fsn1: '[2001:db8::7]:65535' } },
      expected: { probes: { 'eu-west-1': 'probe.eu-west-1.example.com:443', 'us-east-1': '10.0.0.7:80', fsn1: '[2001:db8::7]:65535' } },
    },
    { name: 'a probe next to a configured round trip of the same region', patch: { rttMs: { 'eu-west-3': 9 }, probes: { 'eu-west-3': 'localhost:1' } }, expected: { rttMs: { 'eu-west-3': 9 }, probes: { 'eu-west-3': 'localhost:1' } } },
    { name: '64 regions between round trips and probes', patch: { rttMs: regions(32, 1, 'a'), probes: regions(32, 'h:1', 'b') }, expected: { rttMs: regions(32, 1, 'a'), probes: regions(32, 'h:1', 'b') } },
    { name: '64 probes, some to regions with round trips', patch: { rttMs: regions(10, 1), probes: regions(64, 'h:1') }, expected: { probes: regions(64, 'h:1') } },
  ])('$name', ({ patch, expected }) => {
    expect(parseNodeSpec(node(patch))).toMatchObject(expected);
  });
});

describe('parseNodeSpec: refused', () => {
  it.each<{ name: string; input: unknown; path: string; message?: string | RegExp }>([
    { name: 'unknown field', input: node({ gpus: 1 }), path: 'gpus', message: 'unknown field; remove it or check its spelling' },
    { name: 'unknown geo field', input: node({ geo: { lat: 1, lon: 2, alt: 3 } }), path: 'geo.alt', message: /unknown field/ },
    { name: 'missing cpu', input: { name: 'n', memory: '1Gi' }, path: 'cpu' },
    { name: 'missing memory', input: { name: 'n', cpu: 1 }, path: 'memory' },
    { name: 'missing name', input: { cpu: 1, memory: '1Gi' }, path: 'name' },
    { name: 'name with capitals', input: node({ name: 'Edge-1' }), path: 'name', message: /node name of lowercase letters/ },
    { name: 'cpu in words', input: node({ cpu: 'many' }), path: 'cpu', message: 'expected a number of cores like 0.5 or 500m, got "many"' },
    { name: 'zero cpu', input: node({ cpu: 0 }), path: 'cpu', message: 'cpu must be more than 0' },
    { name: 'memory in words', input: node({ memory: 'lots' }), path: 'memory', message: 'expected a size like 512Mi, got "lots"' },
    { name: 'zero memory', input: node({ memory: '0' }), path: 'memory', message: 'memory must be more than 0' },
    { name: 'lowercase jurisdiction', input: node({ jurisdiction: 'de' }), path: 'jurisdiction', message: 'expected an ISO 3166-1 alpha-2 country code like DE or US' },
    { name: 'three-letter jurisdiction', input: node({ jurisdiction: 'DEU' }), path: 'jurisdiction', message: /ISO 3166-1 alpha-2/ },
    { name: 'group as jurisdiction', input: node({ jurisdiction: 'EU-27' }), path: 'jurisdiction' },
    { name: 'latitude beyond the pole', input: node({ geo: { lat: 91, lon: 0 } }), path: 'geo.lat', message: /<=90/ },
    { name: 'longitude below -180', input: node({ geo: { lat: 0, lon: -181 } }), path: 'geo.lon', message: />=-180/ },
    { name: 'geo without lon', input: node({ geo: { lat: 0 } }), path: 'geo.lon' },
    { name: 'unknown kind', input: node({ kind: 'vm' }), path: 'kind', message: 'expected one of "cloud", "edge", "onprem", got "vm"' },
    { name: 'negative price', input: node({ priceHour: -1 }), path: 'priceHour', message: />=0/ },
    { name: 'absurd price', input: node({ priceHour: 10_001 }), path: 'priceHour', message: /<=10000/ },
    { name: 'empty provider', input: node({ provider: '' }), path: 'provider' },
    { name: 'label key starting with a dash', input: node({ labels: { '-x': 'a' } }), path: 'labels.-x', message: 'expected a label key like tier or example.com/tier, got "-x"' },
    { name: 'label key with a space', input: node({ labels: { 'my tier': 'a' } }), path: 'labels.my tier', message: /expected a label key like tier/ },
    { name: 'label value not a string', input: node({ labels: { tier: 1 } }), path: 'labels.tier', message: 'expected string, got number 1' },
    { name: 'taint without a key', input: node({ taints: [{ value: 'x' }] }), path: 'taints[0].key', message: 'missing; this field is required' },
    { name: 'taint with an empty key', input: node({ taints: [{ key: 'edge' }, { key: '' }] }), path: 'taints[1].key', message: /expected string to have >=1 characters/ },
    { name: 'taint with an effect', input: node({ taints: [{ key: 'edge', effect: 'NoSchedule' }] }), path: 'taints[0].effect', message: 'unknown field; remove it or check its spelling' },
    { name: 'taint as a bare string', input: node({ taints: ['edge'] }), path: 'taints[0]', message: 'expected object, got "edge"' },
    { name: 'negative round trip', input: node({ rttMs: { 'eu-west-1': -1 } }), path: 'rttMs.eu-west-1', message: /expected number to be >=0/ },
    { name: 'round trip over a minute', input: node({ rttMs: { 'eu-west-1': 60_001 } }), path: 'rttMs.eu-west-1', message: /expected number to be <=60000/ },
    { name: 'round trip with a unit', input: node({ rttMs: { 'eu-west-1': '12ms' } }), path: 'rttMs.eu-west-1', message: 'expected number, got "12ms"' },
    { name: 'round trip to a region name too long', input: node({ rttMs: { ['r'.repeat(64)]: 5 } }), path: `rttMs.${'r'.repeat(64)}`, message: /expected string to have <=63 characters/ },
    { name: 'round trips as a list', input: node({ rttMs: [12] }), path: 'rttMs', message: 'expected record, got a list' },
    { name: 'round trips to 65 regions', input: node({ rttMs: regions(65, 1) }), path: 'rttMs', message: 'expected at most 64 regions' },
    { name: 'probe without a port', input: node({ probes: { 'eu-west-1': 'probe.example.com' } }), path: 'probes.eu-west-1', message: 'expected host:port like probe.example.com:443, 10.0.0.7:80 or [2001:db8::7]:443' },
    { name: 'probe to port 0', input: node({ probes: { 'eu-west-1': '10.0.0.7:0' } }), path: 'probes.eu-west-1', message: /expected host:port/ },
    { name: 'probe to a port over 65535', input: node({ probes: { 'eu-west-1': '10.0.0.7:65536' } }), path: 'probes.eu-west-1', message: /expected host:port/ },
    { name: 'probe given as a URL', input: node({ probes: { 'eu-west-1': 'https://probe.example.com:443' } }), path: 'probes.eu-west-1', message: /expected host:port/ },
    { name: 'probe to an unbracketed IPv6 address', input: node({ probes: { 'eu-west-1': '2001:db8::7:443' } }), path: 'probes.eu-west-1', message: /expected host:port/ },
    { name: 'probe with a space', input: node({ probes: { 'eu-west-1': 'probe example.com:443' } }), path: 'probes.eu-west-1', message: /expected host:port/ },
    { name: 'probe as a number', input: node({ probes: { 'eu-west-1': 443 } }), path: 'probes.eu-west-1', message: 'expected string, got number 443' },
    { name: 'probe to a region name too long', input: node({ probes: { ['r'.repeat(64)]: 'h:1' } }), path: `probes.${'r'.repeat(64)}`, message: /expected string to have <=63 characters/ },
    { name: 'probes to 65 regions', input: node({ probes: regions(65, 'h:1') }), path: 'probes', message: 'expected at most 64 probes' },
    { name: 'round trips and probes naming 65 regions together', input: node({ rttMs: regions(33, 1, 'a'), probes: regions(32, 'h:1', 'b') }), path: 'probes', message: 'rttMs and probes name 65 regions together; at most 64 are allowed' },
  ])('$name', ({ input, path, message }) => {
    const error = refusal(input);
    expect(error.code).toBe('invalid_request');
    expect(error.message.startsWith('invalid node config:\n')).toBe(true);
    const problem = error.problems.find((p) => p.path === path);
    expect(problem, `problems: ${JSON.stringify(error.problems)}`).toBeDefined();
    if (typeof message === 'string') expect(problem?.message).toBe(message);
    else if (message) expect(problem?.message).toMatch(message);
  });

  it('lists every problem with its path', () => {
    const error = refusal({ name: 'n', cpu: 1, memory: '1Gi', jurisdiction: 'de', geo: { lat: 91, lon: 0 }, kind: 'vm', bogus: 1 });
    expect(error.problems.map((p) => p.path).sort()).toEqual(['bogus', 'geo.lat', 'jurisdiction', 'kind']);
  });
});

describe('effectiveTaints', () => {
  const taintsOf = (patch: Record<string, unknown>) => effectiveTaints(parseNodeSpec(node(patch)));

  it.each<{ name: string; patch: Record<string, unknown>; expected: NodeSpec['taints'] }>([
    { name: 'an edge node without taints gets edge', patch: { kind: 'edge' }, expected: [{ key: 'edge' }] },
    { name: 'an edge node with taints: [] is untainted', patch: { kind: 'edge', taints: [] }, expected: [] },
    { name: 'an edge node keeps the taints it declares, without edge', patch: { kind: 'edge', taints: [{ key: 'shop', value: 'paris' }] }, expected: [{ key: 'shop', value: 'paris' }] },
    { name: 'a cloud node gets none', patch: { kind: 'cloud' }, expected: [] },
    { name: 'a node of the default kind gets none', patch: {}, expected: [] },
    { name: 'an onprem node gets none', patch: { kind: 'onprem' }, expected: [] },
    { name: 'a cloud node may taint itself', patch: { kind: 'cloud', taints: [{ key: 'gpu' }] }, expected: [{ key: 'gpu' }] },
  ])('$name', ({ patch, expected }) => {
    expect(taintsOf(patch)).toEqual(expected);
  });

  it('reads the fields it needs, so a stored record works as well as a parsed spec', () => {
    expect(effectiveTaints({ kind: 'edge', taints: undefined })).toEqual([{ key: 'edge' }]);
    expect(effectiveTaints({ kind: 'edge', taints: [] })).toEqual([]);
  });
});
