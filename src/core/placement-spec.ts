import { z } from 'zod';
import { labelRequirementSchema } from './label-selector.js';
import { parseDurationMs } from './quantities.js';

// Where a job's tasks may run (hard rules) and where they had better run (soft preferences).
// Hard rules: residency, avoid, require, tolerations and cluster policy; they are never loosened.
// Soft rules: prefer, near, optimize and weights only rank the nodes the hard rules allow.

export const SPREAD_DOMAINS = ['provider', 'region', 'zone', 'site'] as const;
export type SpreadDomain = (typeof SPREAD_DOMAINS)[number];

export const OBJECTIVES = ['latency', 'cost', 'balanced'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** A jurisdiction code (`DE`) or group (`EU`); resolved against the cluster's table at submit. */
export const jurisdictionNameSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_-]{1,31}$/, 'expected an ISO 3166-1 alpha-2 code like DE or a group like EU (upper case)');

const shortName = z.string().min(1).max(63);
const nameList = (what: string) => z.array(shortName, { error: `expected a list of ${what}` }).max(256);

const pointSchema = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});

/** A place whose users should see low latency: coordinates or a region name (`eu-west-1`). */
export const userLocationSchema = z.union([pointSchema, shortName], {
  error: 'expected {lat, lon} or a region name like "eu-west-1"',
});
export type UserLocation = z.infer<typeof userLocationSchema>;

const preferenceSchema = z.strictObject({
  /** How much this preference counts against the other preferences of the job. */
  weight: z.number().int('a preference weight is a whole number').min(1, 'a preference weight is 1 to 100').max(100, 'a preference weight is 1 to 100').default(1),
  match: labelRequirementSchema,
});

const weightSchema = z.number().min(0, 'weights are 0 to 100').max(100, 'weights are 0 to 100');

/** Scorer weights; optimize picks a preset, these replace single entries of it. */
export const objectiveWeightsSchema = z.strictObject({
  latency: weightSchema.optional(),
  cost: weightSchema.optional(),
  load: weightSchema.optional(),
  affinity: weightSchema.optional(),
  locality: weightSchema.optional(),
});
export type ObjectiveWeights = z.infer<typeof objectiveWeightsSchema>;

export const placementSpecSchema = z.strictObject({
  residency: z.array(jurisdictionNameSchema).min(1, 'list at least one jurisdiction, or leave residency out').max(256).optional(),
  avoid: z
    .strictObject({
      jurisdictions: z.array(jurisdictionNameSchema).max(256).default([]),
      providers: nameList('providers').default([]),
      regions: nameList('regions').default([]),
      sites: nameList('sites').default([]),
    })
    .optional(),
  require: z.array(labelRequirementSchema).max(64).default([]),
  prefer: z.array(preferenceSchema).max(64).default([]),
  near: z.strictObject({ users: z.array(userLocationSchema).min(1).max(64) }).optional(),
  optimize: z.enum(OBJECTIVES).default('balanced'),
  weights: objectiveWeightsSchema.optional(),
  spread: z
    .strictObject({
      across: z.enum(SPREAD_DOMAINS),
      /** Most tasks one domain may run beyond the least loaded domain that can take work. */
      maxSkew: z
        .number()
        .int('maxSkew is a whole number of tasks')
        .min(1, 'maxSkew must be at least 1: how many more of the job\'s tasks one domain may run than the least used one')
        .max(1_000_000)
        .default(1),
    })
    .optional(),
  /** How long a task is expected to run, for cost estimates; defaults to the timeout, else 1h. */
  expectedDuration: z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const ms = parseDurationMs(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, 5m or 1h, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
});

export type PlacementSpec = z.output<typeof placementSpecSchema>;
export type PlacementSpecInput = z.input<typeof placementSpecSchema>;

export const DEFAULT_PLACEMENT: PlacementSpec = Object.freeze(placementSpecSchema.parse({}));

/** A node taint: only tasks that tolerate it may run there. Edge nodes carry `edge` by default. */
export const taintSchema = z.strictObject({
  key: z.string().min(1).max(253),
  value: z.string().max(253).optional(),
});
export type Taint = z.infer<typeof taintSchema>;

/** Tolerates taints with this key (`Exists`, the default without a value) or key and value (`Equal`). */
export const tolerationSchema = z
  .strictObject({
    key: z.string().min(1).max(253),
    operator: z.enum(['Equal', 'Exists']).optional(),
    value: z.string().max(253).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.operator === 'Equal' && t.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'operator Equal needs a value' });
    }
    if (t.operator === 'Exists' && t.value !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'operator Exists takes no value' });
    }
  });
export type Toleration = z.infer<typeof tolerationSchema>;

export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => t.key === taint.key && (t.value === undefined || t.value === taint.value));
}

/** The default taint of edge nodes: work lands on shop-floor boxes only when it says it may. */
export const EDGE_TAINT: Taint = Object.freeze({ key: 'edge' });

export function describeTaint(taint: Taint): string {
  return taint.value === undefined ? taint.key : `${taint.key}=${taint.value}`;
}
