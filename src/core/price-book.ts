import { z } from 'zod';
import { NODE_KINDS } from './node-spec.js';
import type { NodeLocation, Resources } from './types.js';
import { parseOrThrow } from './validation.js';

// What things cost: the hourly price of nodes by provider, region or kind, and the price per GB
// of moving data by the widest boundary it crosses. One book for the whole cluster, loaded by the
// server (examples/pricing.yaml) and replaced by admins through the API. Spend accounting,
// estimates and the placement engine's cost scorer all read prices from here.

const GIB = 2 ** 30;
const MILLIS_PER_CPU = 1000;

const dollars = (what: string) => z.number({ error: `expected ${what} in US dollars, like 0.05` }).min(0).max(1_000_000);

/** Which nodes a compute rule prices; every field given must match. */
const matchSchema = z.strictObject({
  provider: z.string().min(1).max(63).optional(),
  region: z.string().min(1).max(63).optional(),
  kind: z.enum(NODE_KINDS).optional(),
});

const computeRuleSchema = z
  .strictObject({
    match: matchSchema,
    /** A flat hourly price per node (a dedicated server, an owned edge box). */
    perNodeHour: dollars('a price per node-hour').optional(),
    /** Or a price per vCPU-hour plus one per GiB-hour of memory (cloud VMs). */
    perVcpuHour: dollars('a price per vCPU-hour').optional(),
    perGbHour: dollars('a price per GiB-hour').optional(),
    /** Where the figure comes from and when: kept with the rule, shown in explanations. */
    source: z.string().max(500).optional(),
  })
  .superRefine((rule, ctx) => {
    const flat = rule.perNodeHour !== undefined;
    const sized = rule.perVcpuHour !== undefined || rule.perGbHour !== undefined;
    if (flat === sized) ctx.addIssue({ code: 'custom', path: [], message: 'give either perNodeHour, or perVcpuHour and/or perGbHour' });
  });

/** Price classes of a transfer, from the cheapest boundary to the widest. */
export const TRANSFER_CLASSES = ['sameZone', 'crossZone', 'crossRegion', 'internet', 'edgeUplink'] as const;
export type TransferClass = (typeof TRANSFER_CLASSES)[number];

const transferRatesSchema = z.strictObject({
  /** Between nodes of one zone (or one site). */
  sameZone: dollars('a price per GB'),
  /** Between zones of one region of one provider. */
  crossZone: dollars('a price per GB'),
  /** Between regions of one provider. */
  crossRegion: dollars('a price per GB'),
  /** To another provider or anywhere on the internet. */
  internet: dollars('a price per GB'),
  /** Out of an edge site over its uplink (a shop's line, a cellular link). */
  edgeUplink: dollars('a price per GB'),
});

export const priceBookSchema = z.strictObject({
  currency: z.literal('USD', { error: 'prices are in USD; currency must be USD' }).default('USD'),
  /** When the figures were last checked, as the book's author states it. */
  asOf: z.string().max(100).optional(),
  /** Most specific match wins (region beats provider beats kind); among equals, the first. */
  compute: z.array(computeRuleSchema).max(1000).default([]),
  transfer: z.strictObject({
    /** Prices by class, charged by the sending node's provider. */
    default: transferRatesSchema,
    /** A provider's own prices for what leaves it, replacing single classes of the default. */
    providers: z.record(z.string().min(1).max(63), transferRatesSchema.partial()).default({}),
  }),
});

export type PriceBook = z.output<typeof priceBookSchema>;
export type ComputeRule = PriceBook['compute'][number];

/**
 * Transfer prices in the shape of public cloud list prices (2025) and no compute rules (nodes
 * keep the prices they declare): what the placement engine uses when it is given no book.
 */
export const LIST_PRICE_BOOK: PriceBook = Object.freeze({
  currency: 'USD',
  compute: [],
  transfer: {
    default: Object.freeze({ sameZone: 0, crossZone: 0.01, crossRegion: 0.02, internet: 0.09, edgeUplink: 0.09 }),
    providers: {},
  },
}) as PriceBook;

export function parsePriceBook(value: unknown): PriceBook {
  return parseOrThrow(priceBookSchema, value, 'price book', 'invalid_spec');
}

/** What a node needs for its price: where it is, its size, and the price it declared for itself. */
export interface PricedNode extends NodeLocation {
  readonly name: string;
  readonly capacity: Resources;
  readonly priceHour: number;
}

export interface NodePrice {
  readonly hour: number;
  /** `book`: a rule of the price book; `node`: the price the node declared (no rule matched); `none`: unpriced. */
  readonly from: 'book' | 'node' | 'none';
  readonly rule?: ComputeRule;
}

/**
 * A node's hourly price. The book wins over what a node declares, so an agent cannot make its
 * own node look cheap; a declared price counts only for nodes no rule covers.
 */
export function nodePrice(book: PriceBook, node: PricedNode): NodePrice {
  let best: ComputeRule | undefined;
  let bestRank = -1;
  for (const rule of book.compute) {
    const { provider, region, kind } = rule.match;
    if ((provider !== undefined && provider !== node.provider) || (region !== undefined && region !== node.region) || (kind !== undefined && kind !== node.kind)) continue;
    const rank = (region !== undefined ? 4 : 0) + (provider !== undefined ? 2 : 0) + (kind !== undefined ? 1 : 0);
    if (rank > bestRank) {
      best = rule;
      bestRank = rank;
    }
  }
  if (best !== undefined) {
    const hour = best.perNodeHour ?? (best.perVcpuHour ?? 0) * (node.capacity.cpuMillis / MILLIS_PER_CPU) + (best.perGbHour ?? 0) * (node.capacity.memoryBytes / GIB);
    return { hour, from: 'book', rule: best };
  }
  return node.priceHour > 0 ? { hour: node.priceHour, from: 'node' } : { hour: 0, from: 'none' };
}

/** The widest boundary a transfer between two nodes crosses, as the book prices it. */
export function transferClass(from: PricedLocation, to: PricedLocation): TransferClass {
  // A sender whose provider is unknown (its node left the fleet) is priced as the internet.
  if (from.provider === '' || to.provider === '') return 'internet';
  if (from.name === to.name) return 'sameZone';
  const sameSite = from.site !== '' && from.site === to.site;
  if (from.kind === 'edge' && !sameSite) return 'edgeUplink';
  if (from.provider !== to.provider) return 'internet';
  if (from.region !== to.region) return 'crossRegion';
  if (from.zone !== to.zone && !sameSite) return 'crossZone';
  return 'sameZone';
}

export type PricedLocation = Pick<PricedNode, 'name' | 'provider' | 'region' | 'zone' | 'site' | 'kind'>;

/** Dollars per GB for moving data from one node to another: the sender's provider's price for the class. */
export function transferPricePerGb(book: PriceBook, from: PricedLocation, to: PricedLocation): { readonly perGb: number; readonly class: TransferClass } {
  const kind = transferClass(from, to);
  const own = book.transfer.providers[from.provider]?.[kind];
  return { perGb: own ?? book.transfer.default[kind], class: kind };
}

/**
 * The share of a node a reservation takes: the larger of its cpu and memory shares, at most the
 * whole node. A task that takes half the memory keeps others off half the node, whatever its cpu.
 */
export function reservedShare(reserved: Resources, capacity: Resources): number {
  return Math.min(1, Math.max(reserved.cpuMillis / Math.max(1, capacity.cpuMillis), reserved.memoryBytes / Math.max(1, capacity.memoryBytes)));
}
