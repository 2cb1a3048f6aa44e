import { z } from 'zod';
import { cpuSchema, memorySchema, NAME_PATTERN } from './job-spec.js';
import { EDGE_TAINT, type Taint, taintSchema } from './placement-spec.js';
import { parseOrThrow } from './validation.js';

// A node's identity, location and capacity, as an agent declares it (flags or node.yaml).

export const NODE_KINDS = ['cloud', 'edge', 'onprem'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;

/** Regions a node may name in `rttMs` and `probes`, together: bounds what every heartbeat carries. */
export const MAX_RTT_REGIONS = 64;

const regionName = z.string().min(1).max(63);

/** `host:port`: a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1..65535. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/;

export function isHostPort(value: string): boolean {
  const match = HOST_PORT.exec(value);
  if (!match) return false;
  const port = Number(match[1]);
  return port >= 1 && port <= 65_535;
}

/** Round-trip times in ms by region name, as configured or measured. */
export const rttMsSchema = z
  .record(regionName, z.number().min(0).max(60_000))
  .refine((r) => Object.keys(r).length <= MAX_RTT_REGIONS, `expected at most ${MAX_RTT_REGIONS} regions`);

export const nodeSpecSchema = z.strictObject({
  name: z.string().regex(NAME_PATTERN, 'expected a node name of lowercase letters, digits and dashes, like "aws-eu-west-1a"'),
  provider: z.string().min(1).max(63).default('local'),
  region: z.string().min(1).max(63).default('local'),
  zone: z.string().max(63).default(''),
  site: z.string().max(63).default(''),
  kind: z.enum(NODE_KINDS).default('cloud'),
  jurisdiction: z
    .string()
    .regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code like DE or US')
    .optional(),
  geo: z
    .strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
    .optional(),
  cpu: cpuSchema.pipe(z.number().int().min(1, 'cpu must be more than 0')),
  memory: memorySchema.pipe(z.number().min(1, 'memory must be more than 0')),
  priceHour: z.number().min(0).max(10_000).default(0),
  labels: z.record(z.string().regex(LABEL_KEY, 'expected a label key like tier or example.com/tier'), z.string().max(253)).default({}),
  /** Left out: edge nodes get the `edge` taint, others none. `[]` untaints an edge node. */
  taints: z.array(taintSchema).max(64).optional(),
  /** Round-trip times from this node, in ms by region name (`eu-west-1: 12`), as configured; `probes` override them. */
  rttMs: rttMsSchema.default({}),
  /**
   * TCP endpoints, by region name, that the agent connects to to measure round trips (`eu-west-1:
   * probe.example.com:443`). A measured value overrides the `rttMs` entry of the same region.
   */
  probes: z
    .record(regionName, z.string().refine(isHostPort, 'expected host:port like probe.example.com:443, 10.0.0.7:80 or [2001:db8::7]:443'))
    .refine((p) => Object.keys(p).length <= MAX_RTT_REGIONS, `expected at most ${MAX_RTT_REGIONS} probes`)
    .optional(),
}).superRefine((spec, ctx) => {
  // Measured values are merged into rttMs, so the two together must fit what a heartbeat may carry.
  const regions = new Set([...Object.keys(spec.rttMs), ...Object.keys(spec.probes ?? {})]);
  if (regions.size > MAX_RTT_REGIONS) {
    ctx.addIssue({ code: 'custom', path: ['probes'], message: `rttMs and probes name ${regions.size} regions together; at most ${MAX_RTT_REGIONS} are allowed` });
  }
});

export type NodeSpecInput = z.input<typeof nodeSpecSchema>;
/** Normalised: cpu in millicores, memory in bytes. */
export type NodeSpec = z.output<typeof nodeSpecSchema>;

export function parseNodeSpec(value: unknown): NodeSpec {
  return parseOrThrow(nodeSpecSchema, value, 'node config', 'invalid_request');
}

/** The taints a node carries: what it declared, or `edge` for an edge node that declared none. */
export function effectiveTaints(spec: Pick<NodeSpec, 'kind' | 'taints'>): readonly Taint[] {
  if (spec.taints !== undefined) return spec.taints;
  return spec.kind === 'edge' ? [EDGE_TAINT] : [];
}
