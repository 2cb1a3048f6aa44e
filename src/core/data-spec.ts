import { z } from 'zod';

// Names in the data catalog. A partition lives on one node: its bytes are in that agent's
// content-addressed store, and the control plane keeps what is where (DESIGN.md, vocabulary).

/** Dataset and partition names: they become path segments and URL parts, so they are kept plain. */
export const DATA_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export const dataNameSchema = (what: string) =>
  z
    .string()
    .regex(DATA_NAME_PATTERN, `expected a ${what} of letters, digits, dots, dashes and underscores (at most 200, not starting with a dot), like "readings-2026-11"`)
    .refine((v) => v !== '.' && v !== '..', `a ${what} may not be "." or ".."`);

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 of 64 lowercase hex digits');

/** Where a partition is and what it holds. */
export interface PartitionRecord {
  readonly namespace: string;
  readonly dataset: string;
  readonly partition: string;
  readonly node: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Mapped to jurisdictions by cluster policy (`residencyClasses`); null: no residency limit. */
  readonly residencyClass: string | null;
  /** `upload`, `register`, or the task whose output it is. */
  readonly createdBy: string;
  readonly createdAt: number;
}

/** The catalog key of a partition. */
export function partitionId(ref: { readonly namespace: string; readonly dataset: string; readonly partition: string }): string {
  return `${ref.namespace}/${ref.dataset}/${ref.partition}`;
}

/** A dataset as listed: its partitions summed up. */
export interface DatasetSummary {
  readonly namespace: string;
  readonly name: string;
  readonly partitions: number;
  readonly bytes: number;
  readonly nodes: readonly string[];
  readonly residencyClasses: readonly string[];
}

const namespaceSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a namespace of lowercase letters, digits and dashes, like "default"').default('default');
const residencyClassSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a residency class name like "eu-personal"').nullable().default(null);

/** `POST /v1/data/uploads`: where and with what token the client sends a partition's bytes. */
export const uploadRequestSchema = z.strictObject({
  namespace: namespaceSchema,
  dataset: dataNameSchema('dataset name'),
  partition: dataNameSchema('partition name'),
  node: z.string().min(1).max(63),
  residencyClass: residencyClassSchema,
});
export type UploadRequest = z.output<typeof uploadRequestSchema>;

/** `POST /v1/data/register`: a file already on the node's disk becomes a partition. */
export const registerRequestSchema = uploadRequestSchema.extend({
  /** Absolute path on the node. */
  path: z.string().min(1).max(4096).refine((p) => p.startsWith('/'), 'expected an absolute path on the node, like /var/lib/sensors/2026-11-28.csv'),
});
export type RegisterRequest = z.output<typeof registerRequestSchema>;

export interface UploadGrant {
  /** PUT the bytes here with `Authorization: Bearer <token>`. */
  readonly url: string;
  readonly token: string;
  readonly expiresAt: number;
  /** When `url` is a node's https data server: the data CA (PEM) its certificate comes from, the one to trust for it. */
  readonly ca?: string;
}
