import { z } from 'zod';
import { DEFAULT_PLACEMENT, placementSpecSchema, tolerationSchema } from './placement-spec.js';
import { parseBytes, parseCpuMillis, parseDurationMs } from './quantities.js';
import { dataNameSchema } from './data-spec.js';
import { AtollError, type FieldProblem } from './errors.js';
import { stageGraphProblems } from './stage-graph.js';
import { parseOrThrow } from './validation.js';
import { secretsSchema, stageSecretProblems } from './secret-spec.js';

// The job spec users write (YAML or JSON): the short form (one stage at the top level) or a DAG
// of `stages`. Both normalise to the same JobSpec: a list of complete stages.

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

const commandSchema = z
  .array(z.string().min(1).max(4096), { error: 'expected a list of arguments like ["echo", "hello"]' })
  .min(1, 'expected at least the program to run')
  .max(1024);
const envSchema = z.record(z.string().regex(ENV_KEY_PATTERN, 'expected an environment variable name like MY_VAR'), z.string().max(32_768));
const timeoutSchema = durationSchema.pipe(z.number().min(1, 'timeout must be more than 0; leave it out for no timeout'));
const tasksSchema = z.number().int().min(1).max(MAX_TASKS_PER_JOB);
const outputSchema = z.strictObject({ dataset: dataNameSchema('dataset name') });
/**
 * Ceilings the agent's sandbox sets on each process of a task (prlimit); each left out gets a
 * default derived from the task's resources and timeout (docs/security.md, "Sandboxed tasks").
 */
const limitsSchema = z.strictObject({
  /** Heap and other private writable memory per process (RLIMIT_DATA); at least 16 MiB, since below that no runtime starts. */
  memory: memorySchema.pipe(z.number().int().min(16 * 2 ** 20, 'limits.memory must be at least 16Mi').max(2 ** 50)).optional(),
  /** CPU time per process (RLIMIT_CPU), rounded up to whole seconds. */
  cpuTime: durationSchema.pipe(z.number().min(1000, 'limits.cpuTime must be at least 1s').max(365 * 24 * 3600 * 1000)).optional(),
  /** Processes and threads (RLIMIT_NPROC). */
  processes: z.number().int().min(8).max(1_000_000).optional(),
  /** Open files per process (RLIMIT_NOFILE). */
  openFiles: z.number().int().min(16).max(1_048_576).optional(),
});
export type TaskLimits = z.output<typeof limitsSchema>;

const DEFAULT_RETRY = { attempts: 0, backoff: 1000, nodeLosses: DEFAULT_NODE_LOSSES };
const DEFAULT_RESOURCES = { cpu: DEFAULT_CPU_MILLIS, memory: DEFAULT_MEMORY_BYTES };

/** At most this many stages per job. */
export const MAX_STAGES = 64;
/** The one stage of a job written in the short form (no `stages`). */
export const SINGLE_STAGE_NAME = 'main';

/**
 * Settings a staged job may give once for all its stages; a stage that gives one replaces the
 * job's value whole, except `env` and `secrets`, which are merged by name (the stage's win).
 */
const sharedSettings = {
  env: envSchema.default({}),
  resources: resourcesSchema.default(DEFAULT_RESOURCES),
  placement: placementSpecSchema.default(DEFAULT_PLACEMENT),
  tolerations: z.array(tolerationSchema).max(64).default([]),
  retry: retrySchema.default(DEFAULT_RETRY),
  timeout: timeoutSchema.optional(),
  /** After a timeout or cancel, how long the process group has between SIGTERM and SIGKILL. */
  killGrace: durationSchema.default(5000),
  /** Named secrets the task gets as env variables or files; sealed at submit, never shown again. */
  secrets: secretsSchema.default({}),
  /** Whether the task may use the network; sandboxed tasks get none (not even the node's loopback) unless this is true. */
  network: z.boolean().default(false),
  limits: limitsSchema.optional(),
};

/** The short form: one stage, written at the top level. */
const singleStageJobSchema = z.strictObject({
  name: name('job name'),
  namespace: name('namespace').default('default'),
  tasks: tasksSchema.default(1),
  command: commandSchema,
  ...sharedSettings,
  /** Data every task reads: partitions are fetched into $ATOLL_INPUT_DIR/<dataset>/<partition>. */
  inputs: z.array(inputSchema).max(MAX_INPUT_DATASETS).default([]),
  /** One task per partition of the dataset (instead of `tasks`); task i reads partition i. */
  forEach: forEachSchema.optional(),
  /**
   * Files each task writes to $ATOLL_OUTPUT_DIR become partitions of this dataset on the node that
   * ran it, named `<task index>-<file name>`, with the strictest residency class of its inputs.
   */
  output: outputSchema.optional(),
});

const stageSchema = z.strictObject({
  name: name('stage name'),
  /** Stages that must all have succeeded before this one starts. */
  dependsOn: z.array(name('stage name')).max(MAX_STAGES).default([]),
  tasks: tasksSchema.optional(),
  command: commandSchema,
  env: envSchema.optional(),
  resources: resourcesSchema.optional(),
  placement: placementSpecSchema.optional(),
  tolerations: z.array(tolerationSchema).max(64).optional(),
  retry: retrySchema.optional(),
  timeout: timeoutSchema.optional(),
  killGrace: durationSchema.optional(),
  /** Merged with the job-level secrets by name (the stage's win), as env is. */
  secrets: secretsSchema.optional(),
  network: z.boolean().optional(),
  limits: limitsSchema.optional(),
  /** As in the short form; a dataset another stage of the job writes is read once that stage is done. */
  inputs: z.array(inputSchema).max(MAX_INPUT_DATASETS).default([]),
  forEach: forEachSchema.optional(),
  output: outputSchema.optional(),
});

/** A job as a DAG of stages; the job-level settings are defaults for every stage. */
const stagedJobSchema = z.strictObject({
  name: name('job name'),
  namespace: name('namespace').default('default'),
  ...sharedSettings,
  stages: z.array(stageSchema).min(1, 'expected at least one stage').max(MAX_STAGES),
});

/** What the user wrote, before defaults: the short form or the staged form. */
export type JobSpecInput = z.input<typeof singleStageJobSchema> | z.input<typeof stagedJobSchema>;

type SingleStage = z.output<typeof singleStageJobSchema>;

/** One stage, normalised: every setting filled in, quantities in millicores, bytes and milliseconds. */
export type StageSpec = Omit<SingleStage, 'namespace'> & { readonly dependsOn: readonly string[] };

/**
 * The normalised spec: every job has stages (the short form is one stage named "main"), each
 * complete on its own. This is what is stored and what the API returns.
 */
export interface JobSpec {
  readonly name: string;
  readonly namespace: string;
  readonly stages: readonly StageSpec[];
}

export function parseJobSpec(value: unknown): JobSpec {
  const staged = typeof value === 'object' && value !== null && 'stages' in value;
  const spec = staged ? fromStaged(parseOrThrow(stagedJobSchema, value, 'job spec', 'invalid_spec'), value as Record<string, unknown>) : fromSingleStage(value);
  const problems = [...stageGraphProblems(spec.stages), ...sizeProblems(spec, staged)];
  if (problems.length > 0) throw invalidJobSpec(problems);
  return spec;
}

function fromSingleStage(value: unknown): JobSpec {
  // `tasks` has a default, so only the document as written can tell it was given next to forEach.
  if (typeof value === 'object' && value !== null && 'forEach' in value && 'tasks' in value) {
    throw invalidJobSpec([{ path: 'tasks', message: 'forEach makes one task per partition; leave tasks out' }]);
  }
  const { name: jobName, namespace, ...stage } = parseOrThrow(singleStageJobSchema, value, 'job spec', 'invalid_spec');
  return { name: jobName, namespace, stages: [{ ...stage, name: SINGLE_STAGE_NAME, dependsOn: [] }] };
}

function fromStaged(parsed: z.output<typeof stagedJobSchema>, written: Record<string, unknown>): JobSpec {
  const { name: jobName, namespace, stages, ...shared } = parsed;
  const writtenStages = written['stages'] as readonly Record<string, unknown>[];
  const problems: FieldProblem[] = [];
  const normalised = stages.map((stage, i): StageSpec => {
    if (stage.forEach !== undefined && 'tasks' in writtenStages[i]!) problems.push({ path: `stages[${i}].tasks`, message: 'forEach makes one task per partition; leave tasks out' });
    const { timeout, limits, ...rest } = stage;
    const effectiveTimeout = timeout ?? shared.timeout;
    const effectiveLimits = limits ?? shared.limits;
    return {
      ...rest,
      tasks: stage.tasks ?? 1,
      env: { ...shared.env, ...stage.env },
      secrets: { ...shared.secrets, ...stage.secrets },
      resources: stage.resources ?? shared.resources,
      placement: stage.placement ?? shared.placement,
      tolerations: stage.tolerations ?? shared.tolerations,
      retry: stage.retry ?? shared.retry,
      killGrace: stage.killGrace ?? shared.killGrace,
      network: stage.network ?? shared.network,
      ...(effectiveLimits === undefined ? {} : { limits: effectiveLimits }),
      ...(effectiveTimeout === undefined ? {} : { timeout: effectiveTimeout }),
    };
  });
  if (problems.length > 0) throw invalidJobSpec(problems);
  return { name: jobName, namespace, stages: normalised };
}

function sizeProblems(spec: JobSpec, staged: boolean): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const at = (i: number, field: string) => (staged ? `stages[${i}].${field}` : field);
  spec.stages.forEach((stage, i) => {
    // Every attempt carries command and env to its agent; keep that well inside one message.
    const bytes = Buffer.byteLength(JSON.stringify([stage.command, stage.env]));
    if (bytes > MAX_COMMAND_AND_ENV_BYTES) {
      problems.push({ path: at(i, 'env'), message: `command and env together are ${bytes} bytes; at most ${MAX_COMMAND_AND_ENV_BYTES} are allowed (put large inputs in files)` });
    }
    problems.push(...stageSecretProblems(stage.secrets, stage.env, (field) => at(i, field)));
  });
  const counted = spec.stages.reduce((sum, stage) => sum + (stage.forEach === undefined ? stage.tasks : 0), 0);
  if (counted > MAX_TASKS_PER_JOB) problems.push({ path: 'stages', message: `the stages have ${counted} tasks in all; a job has at most ${MAX_TASKS_PER_JOB}` });
  return problems;
}

function invalidJobSpec(problems: readonly FieldProblem[]): AtollError {
  return new AtollError('invalid_spec', `invalid job spec:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { problems });
}

/** The stage a task belongs to. */
export function stageOf(spec: JobSpec, stage: number): StageSpec {
  const found = spec.stages[stage];
  if (found === undefined) throw new AtollError('internal', `job ${spec.name} has no stage ${stage}`);
  return found;
}

/** Whether any stage reads data (inputs or forEach), so its tasks need the data catalog. */
export function readsData(stage: StageSpec): boolean {
  return stage.inputs.length > 0 || stage.forEach !== undefined;
}

/** JSON Schema of the spec as users write it, for editor completion. */
export function jobSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(z.union([singleStageJobSchema, stagedJobSchema]), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
