import { z } from 'zod';
import { NAME_PATTERN } from './job-spec.js';
import { jurisdictionNameSchema } from './placement-spec.js';
import { parseOrThrow } from './validation.js';

// Cluster policy: hard rules an admin sets for every job (or the jobs of some namespaces).
// The scheduler applies them on top of each job's own placement; a job cannot loosen them.

const name = (what: string, example: string) =>
  z.string().regex(NAME_PATTERN, `expected a ${what} of lowercase letters, digits and dashes (at most 63), like "${example}"`);

const jurisdictionList = z.array(jurisdictionNameSchema).min(1).max(256);

export const policySpecSchema = z
  .strictObject({
    name: name('policy name', 'gdpr'),
    description: z.string().max(1000).optional(),
    /** Namespaces the policy binds; left out, it binds every namespace. */
    namespaces: z.array(name('namespace', 'finance')).min(1).max(256).optional(),
    /** Jurisdictions (codes or groups) where no work of the bound namespaces may run. */
    denyJurisdictions: jurisdictionList.optional(),
    /** When set, work of the bound namespaces runs only on these providers. */
    allowProviders: z.array(z.string().min(1).max(63)).min(1).max(256).optional(),
    /** Data residency classes (`eu-personal`) and the jurisdictions their data may be read in. */
    residencyClasses: z.record(name('residency class', 'eu-personal'), jurisdictionList).optional(),
    /** Extra jurisdiction groups (`DACH: [DE, AT, CH]`) for residency lists and policies. */
    jurisdictionGroups: z.record(jurisdictionNameSchema, jurisdictionList).optional(),
    /** A monthly spend limit for each bound namespace (calendar month, UTC, in USD of the price book). */
    budget: z
      .strictObject({
        monthly: z.number({ error: 'expected a monthly amount in US dollars, like 500' }).positive().max(1e12),
        /** At 100%: refuse new jobs of the namespace, or accept them and hold their tasks until there is budget again. Running work carries on either way. */
        whenExceeded: z.enum(['refuse', 'queue']).default('refuse'),
      })
      .optional(),
  })
  .superRefine((policy, ctx) => {
    if (policy.namespaces !== undefined && policy.jurisdictionGroups !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['jurisdictionGroups'],
        message: 'jurisdiction groups are cluster-wide; define them in a policy without namespaces',
      });
    }
    if (policy.namespaces !== undefined && policy.residencyClasses !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['residencyClasses'],
        message: 'residency classes are cluster-wide; define them in a policy without namespaces',
      });
    }
    const rules = ['denyJurisdictions', 'allowProviders', 'residencyClasses', 'jurisdictionGroups', 'budget'] as const;
    if (rules.every((rule) => policy[rule] === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: `a policy needs at least one rule: ${rules.join(', ')}` });
    }
  });

export type PolicySpec = z.output<typeof policySpecSchema>;

/** A policy as the control plane stores it. */
export interface PolicyRecord {
  readonly name: string;
  readonly spec: PolicySpec;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export function parsePolicySpec(value: unknown): PolicySpec {
  return parseOrThrow(policySpecSchema, value, 'policy', 'invalid_spec');
}

/** Whether the policy binds jobs of this namespace. */
export function bindsNamespace(policy: PolicySpec, namespace: string): boolean {
  return policy.namespaces === undefined || policy.namespaces.includes(namespace);
}
