import { z } from 'zod';
import { DEFAULT_PLACEMENT, placementSpecSchema, tolerationSchema } from './placement-spec.js';
import { parseBytes, parseCpuMillis, parseDurationMs } from './quantities.js';
import { dataNameSchema } from './data-spec.js';
import { AtollError } from './errors.js';
import { parseOrThrow } from './validation.js';

// The job spec users write (YAML or JSON). Single-stage form for now; `stages` and `inputs`
// join later as new optional fields, so today's specs stay valid.

export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_TASKS_PER_JOB = 100_000;
/** Command plus env of one task, as sent to the agent with every attempt. */
export const MAX_COMMAND_AND_ENV_BYTES = 128 * 1024;

const name = (what: string) =>
  z.string().regex(NAME_PATTERN, `expected a ${what} of lowercase letters, digits and dashes (at most 63), like "my-job"`);

function quantity(kind: string, example: string, parse: (v: string | number) => number | undefined) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const parsed = parse(value);
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${kind} like ${example}, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return parsed;
  });
}

export const memorySchema = quantity('a size', '512Mi', parseBytes);
export const cpuSchema = quantity('a number of cores', '0.5 or 500m', parseCpuMillis);
export const durationSchema = quantity('a duration', '30s, 5m or 1h', parseDurationMs);

export const DEFAULT_CPU_MILLIS = 100;
export const DEFAULT_MEMORY_BYTES = 64 * 2 ** 20;

const resourcesSchema = z.strictObject({
  cpu: cpuSchema.pipe(z.number().int().min(1, 'cpu must be more than 0').max(1_024_000)).default(DEFAULT_CPU_MILLIS),
  memory: memorySchema.pipe(z.number().min(1, 'memory must be more than 0')).default(DEFAULT_MEMORY_BYTES),
});

export const DEFAULT_NODE_LOSSES = 5;

const retrySchema = z.strictObject({
  /** How many more times a failed task is tried after its first failure. */
  attempts: z.number().int().min(0).max(50).default(0),
  /** The first wait before a retry; it doubles for each further retry (with jitter). */
  backoff: durationSchema.default(1000),
  /**
   * How many times a task may lose its node (the node went down or silent while running it) and
   * still be placed again. Apart from `attempts`, since a lost node is not the task's failure,
   * unless it keeps happening: a task that takes down every node it touches must stop.
   */
  nodeLosses: z.number().int().min(0).max(100).default(DEFAULT_NODE_LOSSES),
});

/** At most this many datasets per task, and partitions per dataset, so an attempt stays small. */
export const MAX_INPUT_DATASETS = 16;
export const MAX_INPUT_PARTITIONS = 10_000;
/** Partitions one task may read in all (inputs plus its forEach partition). */
export const MAX_TASK_INPUTS = 10_000;

const inputSchema = z.strictObject({
  dataset: dataNameSchema('dataset name'),
  /** Left out: every partition the dataset has when the job is submitted (filled in then). */
  partitions: z.array(dataNameSchema('partition name')).min(1).max(MAX_INPUT_PARTITIONS).optional(),
});
export type JobInput = z.output<typeof inputSchema>;

const forEachSchema = z.strictObject({
  dataset: dataNameSchema('dataset name'),
  /** Left out: every partition of the dataset at submit time (filled in then); one task each. */
  partitions: z.array(dataNameSchema('partition name')).min(1).max(MAX_TASKS_PER_JOB).optional(),
});

export const jobSpecSchema = z.strictObject({
  name: name('job name'),
  namespace: name('namespace').default('default'),
  tasks: z.number().int().min(1).max(MAX_TASKS_PER_JOB).default(1),
  command: z
    .array(z.string().min(1).max(4096), { error: 'expected a list of arguments like ["echo", "hello"]' })
    .min(1, 'expected at least the program to run')
    .max(1024),
  env: z
    .record(z.string().regex(ENV_KEY_PATTERN, 'expected an environment variable name like MY_VAR'), z.string().max(32_768))
    .default({}),
  resources: resourcesSchema.default({ cpu: DEFAULT_CPU_MILLIS, memory: DEFAULT_MEMORY_BYTES }),
  placement: placementSpecSchema.default(DEFAULT_PLACEMENT),
  tolerations: z.array(tolerationSchema).max(64).default([]),
  /** Data every task reads: partitions are fetched into $ATOLL_INPUT_DIR/<dataset>/<partition>. */
  inputs: z.array(inputSchema).max(MAX_INPUT_DATASETS).default([]),
  /** One task per partition of the dataset (instead of `tasks`); task i reads partition i. */
  forEach: forEachSchema.optional(),
  /**
   * Files each task writes to $ATOLL_OUTPUT_DIR become partitions of this dataset on the node that
   * ran it, named `<task index>-<file name>`, with the strictest residency class of its inputs.
   */
  output: z.strictObject({ dataset: dataNameSchema('dataset name') }).optional(),
  retry: retrySchema.default({ attempts: 0, backoff: 1000, nodeLosses: DEFAULT_NODE_LOSSES }),
  timeout: durationSchema.pipe(z.number().min(1, 'timeout must be more than 0; leave it out for no timeout')).optional(),
  /** After a timeout or cancel, how long the process group has between SIGTERM and SIGKILL. */
  killGrace: durationSchema.default(5000),
}).superRefine((spec, ctx) => {
  // Every attempt carries command and env to its agent; keep that well inside one message.
  const bytes = Buffer.byteLength(JSON.stringify([spec.command, spec.env]));
  if (bytes > MAX_COMMAND_AND_ENV_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['env'], message: `command and env together are ${bytes} bytes; at most ${MAX_COMMAND_AND_ENV_BYTES} are allowed (put large inputs in files)` });
  }
});

/** What the user wrote, before defaults. */
export type JobSpecInput = z.input<typeof jobSpecSchema>;
/** The normalised spec: defaults applied, quantities in millicores, bytes and milliseconds. */
export type JobSpec = z.output<typeof jobSpecSchema>;

export function parseJobSpec(value: unknown): JobSpec {
  // `tasks` has a default, so only the document as written can tell it was given next to forEach.
  if (typeof value === 'object' && value !== null && 'forEach' in value && 'tasks' in value) {
    const message = 'forEach makes one task per partition; leave tasks out';
    throw new AtollError('invalid_spec', `invalid job spec:\n  tasks: ${message}`, { problems: [{ path: 'tasks', message }] });
  }
  return parseOrThrow(jobSpecSchema, value, 'job spec', 'invalid_spec');
}

/** JSON Schema of the spec as users write it, for editor completion. */
export function jobSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(jobSpecSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
