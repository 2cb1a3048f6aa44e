import { z } from 'zod';
import { cpuSchema, memorySchema, NAME_PATTERN } from './job-spec.js';
import { EDGE_TAINT, type Taint, taintSchema } from './placement-spec.js';
import { parseOrThrow } from './validation.js';

// A node's identity, location and capacity, as an agent declares it (flags or node.yaml).

export const NODE_KINDS = ['cloud', 'edge', 'onprem'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;

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
  /** Round-trip times measured from this node, in ms by region name (`eu-west-1: 12`). */
  rttMs: z.record(z.string().min(1).max(63), z.number().min(0).max(60_000)).default({}),
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
