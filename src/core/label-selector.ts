import { z } from 'zod';

/** One requirement of a label selector, in the Kubernetes shape. */
export const labelRequirementSchema = z
  .strictObject({
    key: z.string().min(1).max(253),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string().max(253)).max(64).optional(),
  })
  .superRefine((req, ctx) => {
    const needsValues = req.operator === 'In' || req.operator === 'NotIn';
    if (needsValues && (!req.values || req.values.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${req.operator} needs a non-empty list of values` });
    }
    if (!needsValues && req.values !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${req.operator} takes no values` });
    }
  });

export type LabelRequirement = z.infer<typeof labelRequirementSchema>;
export type Labels = Readonly<Record<string, string>>;

export function matchesRequirement(labels: Labels, req: LabelRequirement): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  switch (req.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'In':
      return has && (req.values ?? []).includes(labels[req.key] as string);
    case 'NotIn':
      return !has || !(req.values ?? []).includes(labels[req.key] as string);
  }
}

/** The first requirement the labels fail, or undefined when all hold. */
export function firstUnmetRequirement(labels: Labels, reqs: readonly LabelRequirement[]): LabelRequirement | undefined {
  return reqs.find((req) => !matchesRequirement(labels, req));
}

export function describeRequirement(req: LabelRequirement): string {
  const values = req.values ? ` (${req.values.join(', ')})` : '';
  return `${req.key} ${req.operator}${values}`;
}
