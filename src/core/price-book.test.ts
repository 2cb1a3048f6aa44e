import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AtollError } from './errors.js';
import { parseNodeSpec } from './node-spec.js';
import { LIST_PRICE_BOOK, nodePrice, parsePriceBook, reservedShare, transferClass, transferPricePerGb, type PricedNode } from './price-book.js';

const GIB = 2 ** 30;

const node = (overrides: Partial<PricedNode> = {}): PricedNode => ({
  name: 'n', provider: 'aws', region: 'eu-west-1', zone: 'eu-west-1a', site: '', kind: 'cloud', jurisdiction: 'IE', lat: null, lon: null,
  capacity: { cpuMillis: 4000, memoryBytes: 16 * GIB }, priceHour: 0, ...overrides,
});

const book = parsePriceBook({
  compute: [
    { match: { kind: 'edge' }, perNodeHour: 0.012 },
    { match: { provider: 'aws' }, perVcpuHour: 0.05 },
    { match: { provider: 'aws', region: 'eu-west-1' }, perVcpuHour: 0.04, perGbHour: 0.005 },
    { match: { provider: 'aws', region: 'eu-west-1' }, perNodeHour: 99, source: 'never used: an equally specific rule came first' },
  ],
  transfer: {
    default: { sameZone: 0, crossZone: 0.01, crossRegion: 0.02, internet: 0.09, edgeUplink: 0.05 },
    providers: { hetzner: { internet: 0.0012 } },
  },
});

describe('parsePriceBook', () => {
  it.each<{ name: string; input: unknown; path: string }>([
    { name: 'an unknown field', input: { transfer: { default: LIST_PRICE_BOOK.transfer.default }, discount: 0.1 }, path: 'discount' },
    { name: 'a rule with both kinds of price', input: { compute: [{ match: {}, perNodeHour: 1, perVcpuHour: 1 }], transfer: { default: LIST_PRICE_BOOK.transfer.default } }, path: 'compute[0]' },
    { name: 'a rule with no price', input: { compute: [{ match: { provider: 'aws' } }], transfer: { default: LIST_PRICE_BOOK.transfer.default } }, path: 'compute[0]' },
    { name: 'a negative price', input: { transfer: { default: { ...LIST_PRICE_BOOK.transfer.default, internet: -1 } } }, path: 'transfer.default.internet' },
    { name: 'another currency', input: { currency: 'EUR', transfer: { default: LIST_PRICE_BOOK.transfer.default } }, path: 'currency' },
    { name: 'a missing transfer class', input: { transfer: { default: { sameZone: 0 } } }, path: 'transfer.default.crossZone' },
  ])('refuses $name, naming the field', ({ input, path }) => {
    const error = (() => {
      try {
        parsePriceBook(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AtollError);
    expect((error as AtollError).problems.map((p) => p.path)).toContain(path);
  });
});

describe('nodePrice', () => {
  it('takes the most specific rule, the first among equals', () => {
    expect(nodePrice(book, node())).toMatchObject({ hour: 0.04 * 4 + 0.005 * 16, from: 'book' });
    expect(nodePrice(book, node({ region: 'us-east-1' }))).toMatchObject({ hour: 0.2, from: 'book' });
    expect(nodePrice(book, node({ provider: 'edge', kind: 'edge' }))).toMatchObject({ hour: 0.012, from: 'book' });
  });

  it('beats the price a node declares, which counts only where no rule matches', () => {
    expect(nodePrice(book, node({ priceHour: 0.001 })).hour).toBeCloseTo(0.24);
    expect(nodePrice(book, node({ provider: 'gcp', priceHour: 0.3 }))).toEqual({ hour: 0.3, from: 'node' });
    expect(nodePrice(book, node({ provider: 'gcp' }))).toEqual({ hour: 0, from: 'none' });
  });
});

describe('transfer prices', () => {
  const paris = node({ name: 'paris', provider: 'edge', region: 'fr-idf', zone: '', site: 'paris-11', kind: 'edge' });
  const parisToo = { ...paris, name: 'paris-2' };
  const dublin = node({ name: 'dublin' });
  const dublinB = node({ name: 'dublin-b', zone: 'eu-west-1b' });
  const virginia = node({ name: 'virginia', region: 'us-east-1', zone: 'us-east-1a' });
  const hetzner = node({ name: 'fsn', provider: 'hetzner', region: 'eu-central', zone: 'fsn1' });
  it.each([
    { name: 'a node to itself', from: dublin, to: dublin, class: 'sameZone', perGb: 0 },
    { name: 'across zones', from: dublin, to: dublinB, class: 'crossZone', perGb: 0.01 },
    { name: 'across regions of a provider', from: dublin, to: virginia, class: 'crossRegion', perGb: 0.02 },
    { name: 'to another provider', from: dublin, to: hetzner, class: 'internet', perGb: 0.09 },
    { name: 'out of an edge site', from: paris, to: dublin, class: 'edgeUplink', perGb: 0.05 },
    { name: 'within an edge site', from: paris, to: parisToo, class: 'sameZone', perGb: 0 },
    { name: 'into an edge site', from: dublin, to: paris, class: 'internet', perGb: 0.09 },
    { name: 'a provider\'s own price for what leaves it', from: hetzner, to: dublin, class: 'internet', perGb: 0.0012 },
    { name: 'from a node no longer known', from: { ...dublin, name: 'gone', provider: '' }, to: dublin, class: 'internet', perGb: 0.09 },
  ])('$name: $class at $perGb/GB', ({ from, to, class: kind, perGb }) => {
    expect(transferClass(from, to)).toBe(kind);
    expect(transferPricePerGb(book, from, to)).toEqual({ perGb, class: kind });
  });
});

describe('reservedShare', () => {
  it('is the larger of the cpu and memory shares, at most the whole node', () => {
    const capacity = { cpuMillis: 4000, memoryBytes: 16 * GIB };
    expect(reservedShare({ cpuMillis: 1000, memoryBytes: 1 * GIB }, capacity)).toBe(0.25);
    expect(reservedShare({ cpuMillis: 100, memoryBytes: 8 * GIB }, capacity)).toBe(0.5);
    expect(reservedShare({ cpuMillis: 8000, memoryBytes: 0 }, capacity)).toBe(1);
  });
});

describe('examples/pricing.yaml', () => {
  it('parses, and prices every node of the example fleet from a rule of the book', () => {
    const examples = new URL('../../examples/', import.meta.url);
    const shipped = parsePriceBook(parseYaml(readFileSync(new URL('pricing.yaml', examples), 'utf8')));
    const fleet = parseYaml(readFileSync(new URL('fleet.yaml', examples), 'utf8')) as { nodes: unknown[] };
    for (const entry of fleet.nodes) {
      const spec = parseNodeSpec(entry);
      const price = nodePrice(shipped, { ...spec, jurisdiction: spec.jurisdiction ?? null, lat: null, lon: null, capacity: { cpuMillis: spec.cpu, memoryBytes: spec.memory } });
      expect(price.from, spec.name).toBe('book');
      expect(price.hour, spec.name).toBeGreaterThan(0);
      expect(price.rule?.source, spec.name).toBeTruthy();
    }
  });
});
