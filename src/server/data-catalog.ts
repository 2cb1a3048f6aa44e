import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { compareNames } from '../core/collections.js';
import { partitionId, registerRequestSchema, uploadRequestSchema, type DatasetSummary, type PartitionRecord, type UploadGrant } from '../core/data-spec.js';
import { AtollError, type FieldProblem } from '../core/errors.js';
import { MAX_TASK_INPUTS, MAX_TASKS_PER_JOB, stageOf, type JobSpec, type StageSpec } from '../core/job-spec.js';
import { taskIndexOfAttempt } from '../core/ids.js';
import { writersOf } from '../core/stage-graph.js';
import type { AttemptRecord, JobRecord, NodeRecord, TaskRecord } from '../core/types.js';
import { isConnectedNodeState } from '../core/states.js';
import { parseOrThrow } from '../core/validation.js';
import { signDataToken, type DataSigningKeys } from '../protocol/data-token.js';
import type { AgentMessage, AttemptInput, AttemptOutput, AttemptResult } from '../protocol/messages.js';
import type { Compliance, TaskInput } from '../scheduler/engine.js';
import type { AgentLinks } from './agent-links.js';
import type { HotState, LiveNode } from './state/hot-state.js';
import type { StateMachine } from './state/state-machine.js';

/** Which task: its index in the job and its stage. */
type TaskRef = Pick<TaskRecord, 'index' | 'stage'>;
type DataRead = { readonly dataset: string; readonly partitions?: string[] | undefined };

/** A spec's partition lists as sets, made once per list (specs are immutable once accepted). */
const partitionSets = new WeakMap<readonly string[], ReadonlySet<string>>();
function partitionSet(partitions: readonly string[]): ReadonlySet<string> {
  let set = partitionSets.get(partitions);
  if (set === undefined) partitionSets.set(partitions, (set = new Set(partitions)));
  return set;
}

// The control plane's side of data: the catalog of which partition lives where, the grants that
// let a client or a node move bytes (signed tokens the agents check), and the residency rule that
// data of a class is never stored on a node outside that class's jurisdictions.

/** How long an upload grant lasts: enough to start sending a large file, not to keep it around. */
const UPLOAD_GRANT_MS = 10 * 60_000;
/** How long an attempt's read tokens last: it may queue on its agent before it fetches. */
const INPUT_GRANT_MS = 60 * 60_000;
/** How long `atoll data register` waits for the agent to hash and store the file. */
const REGISTER_TIMEOUT_MS = 120_000;

type Stored = Extract<AgentMessage, { type: 'data.stored' }>;
type Failed = Extract<AgentMessage, { type: 'data.failed' }>;
type Refused = Extract<AgentMessage, { type: 'data.refused' }>;
type Transferred = Extract<AgentMessage, { type: 'data.transferred' }>;

export interface DataCatalogOptions {
  readonly clock: Clock;
  readonly keys: DataSigningKeys;
  /** The policies in force, compiled (residency classes live there). */
  readonly compliance: () => Compliance;
}

export class DataCatalog {
  /** Register requests sent to agents, by request id: only that node's answer counts. */
  private readonly waiting = new Map<string, { node: string; residencyClass: string | null; resolve: (p: PartitionRecord) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /**
   * Upload grants handed out, by node and partition: an agent's `data.stored` without a request id
   * is catalogued only against one of these, with the class the grant was checked for, so an
   * agent cannot put entries (or drop a class) in the catalog on its own say-so.
   */
  private readonly grants = new Map<string, { readonly residencyClass: string | null; readonly expiresAt: number }>();

  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly links: AgentLinks,
    private readonly options: DataCatalogOptions,
  ) {}

  /** Datasets with their partitions summed up, by namespace and name. */
  listDatasets(namespace?: string): DatasetSummary[] {
    const byDataset = new Map<string, PartitionRecord[]>();
    for (const p of this.hot.partitions.values()) {
      if (namespace !== undefined && p.namespace !== namespace) continue;
      const key = `${p.namespace}/${p.dataset}`;
      byDataset.set(key, [...(byDataset.get(key) ?? []), p]);
    }
    return [...byDataset.values()].map(summarize).sort((a, b) => (a.namespace === b.namespace ? compareNames(a.name, b.name) : compareNames(a.namespace, b.namespace)));
  }

  dataset(namespace: string, name: string): DatasetSummary & { readonly items: readonly PartitionRecord[] } {
    const items = this.partitionsOf(namespace, name);
    if (items.length === 0) throw datasetNotFound(namespace, name);
    return { ...summarize(items), items };
  }

  /**
   * The spec with its data named in full: inputs and forEach without `partitions` get every
   * partition the dataset has now, and forEach sets the stage's `tasks`. Names the catalog does
   * not know are refused with their path, before the job exists. Data another stage of the job
   * writes is left to `resolveStage`, when that stage has run.
   */
  resolveInputs(spec: JobSpec): JobSpec {
    const problems: FieldProblem[] = [];
    const prefix = (i: number) => (spec.stages.length === 1 ? '' : `stages[${i}].`);
    const stages = spec.stages.map((stage, i) => this.resolveStageData(spec, i, stage, (read, path, written) => {
      if (written) return undefined;
      const held = new Set(this.partitionsOf(spec.namespace, read.dataset).map((p) => p.partition));
      if (held.size === 0) {
        problems.push({ path: `${prefix(i)}${path}.dataset`, message: `dataset "${read.dataset}" has no partitions in namespace ${spec.namespace}; add some with \`atoll data put\` or \`atoll data register\`` });
        return [];
      }
      if (read.partitions === undefined) return [...held].sort(compareNames);
      read.partitions.forEach((p, k) => {
        if (!held.has(p)) problems.push({ path: `${prefix(i)}${path}.partitions[${k}]`, message: `dataset "${read.dataset}" has no partition "${p}"` });
      });
      return [...read.partitions];
    }, (message, path) => problems.push({ path: `${prefix(i)}${path}`, message })));
    if (problems.length > 0) throw new AtollError('invalid_spec', `invalid job spec:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { problems });
    return { ...spec, stages };
  }

  /**
   * A stage about to start, with the outputs of the stages it depends on named in full: every
   * partition of the dataset that tasks of this job's writing stages stored (other data was named
   * at submit). Throws, with a message for the job's reason, when the stage cannot run.
   */
  resolveStage(job: JobRecord, index: number): StageSpec {
    const problems: string[] = [];
    const resolved = this.resolveStageData(job.spec, index, stageOf(job.spec, index), (read, _path, written) => (written ? this.outputsOfJob(job, index, read.dataset) : undefined), (message, path) => problems.push(`${path}: ${message}`));
    if (resolved.forEach !== undefined && resolved.tasks === 0) problems.push(`forEach: the stages before it wrote no partition of dataset "${resolved.forEach.dataset}", so there is nothing to run`);
    if (job.taskCount + resolved.tasks > MAX_TASKS_PER_JOB) problems.push(`the job would have ${job.taskCount + resolved.tasks} tasks; a job has at most ${MAX_TASKS_PER_JOB}`);
    if (problems.length > 0) throw new AtollError('invalid_spec', `stage ${resolved.name} cannot start: ${problems.join('; ')}`);
    return resolved;
  }

  /**
   * One stage with the partitions of its inputs and forEach named by `name` (`written`: another
   * stage of the job writes the dataset); where `name` returns undefined the entry is left as it is.
   */
  private resolveStageData(
    spec: JobSpec,
    index: number,
    stage: StageSpec,
    name: (read: DataRead, path: string, written: boolean) => string[] | undefined,
    problem: (message: string, path: string) => void,
  ): StageSpec {
    const resolve = (read: DataRead, path: string): DataRead => {
      const partitions = name(read, path, writersOf(spec.stages, read.dataset, index).length > 0);
      return partitions === undefined ? read : { dataset: read.dataset, partitions };
    };
    const inputs = stage.inputs.map((input, k) => resolve(input, `inputs[${k}]`));
    const forEach = stage.forEach === undefined ? undefined : resolve(stage.forEach, 'forEach');
    // A dataset named without partitions grows to all it has: the limits hold after that too.
    const perTask = inputs.reduce((sum, i) => sum + (i.partitions?.length ?? 0), 0) + (forEach === undefined ? 0 : 1);
    if (perTask > MAX_TASK_INPUTS) problem(`each task would read ${perTask} partitions; at most ${MAX_TASK_INPUTS} are allowed (name fewer, or use forEach)`, 'inputs');
    const partitionCount = forEach?.partitions?.length;
    if (partitionCount !== undefined && partitionCount > MAX_TASKS_PER_JOB) problem(`dataset "${forEach!.dataset}" has ${partitionCount} partitions; a job has at most ${MAX_TASKS_PER_JOB} tasks`, 'forEach');
    return { ...stage, inputs, ...(forEach === undefined ? {} : { forEach, tasks: partitionCount ?? 0 }) };
  }

  /** Partitions of `dataset` stored by tasks of this job's stages (other than `reader`) that write it. */
  private outputsOfJob(job: JobRecord, reader: number, dataset: string): string[] {
    const ranges = writersOf(job.spec.stages, dataset, reader).map((w) => job.stages[w]!).filter((run) => run.firstTask !== null);
    const found: string[] = [];
    for (const p of this.partitionsOf(job.namespace, dataset)) {
      const taskIndex = taskIndexOfAttempt(p.createdBy, job.id);
      if (taskIndex !== undefined && ranges.some((run) => taskIndex >= run.firstTask! && taskIndex < run.firstTask! + run.tasks)) found.push(p.partition);
    }
    return found.sort(compareNames);
  }

  /**
   * What a task reads, as placement weighs it: each partition's holder, size and class, or
   * `missing` when it left the catalog after the job was submitted.
   */
  inputsOf(job: JobRecord, task: TaskRef): TaskInput[] {
    const stage = stageOf(job.spec, task.stage);
    const local = task.index - (job.stages[task.stage]?.firstTask ?? 0);
    const refs = [
      ...stage.inputs.flatMap((input) => (input.partitions ?? []).map((partition) => ({ dataset: input.dataset, partition }))),
      ...(stage.forEach?.partitions === undefined ? [] : [{ dataset: stage.forEach.dataset, partition: stage.forEach.partitions[local]! }]),
    ];
    return refs.map(({ dataset, partition }) => {
      const held = this.hot.partitions.get(partitionId({ namespace: job.namespace, dataset, partition }));
      return held === undefined
        ? { dataset, partition, node: '', bytes: 0, sha256: '', residencyClass: null, missing: true }
        : { dataset, partition, node: held.node, bytes: held.bytes, sha256: held.sha256, residencyClass: held.residencyClass };
    });
  }

  /**
   * One of the task's inputs, if it has it: what a transfer report is checked against. Looks the
   * partition up in sets kept per spec, so a task with thousands of inputs is not rescanned per report.
   */
  inputOf(job: JobRecord, task: TaskRef, dataset: string, partition: string): TaskInput | undefined {
    const stage = stageOf(job.spec, task.stage);
    const local = task.index - (job.stages[task.stage]?.firstTask ?? 0);
    const listed = stage.inputs.some((input) => input.dataset === dataset && input.partitions !== undefined && partitionSet(input.partitions).has(partition))
      || (stage.forEach?.dataset === dataset && stage.forEach.partitions?.[local] === partition);
    const held = listed ? this.hot.partitions.get(partitionId({ namespace: job.namespace, dataset, partition })) : undefined;
    return held === undefined ? undefined
      : { dataset, partition, node: held.node, bytes: held.bytes, sha256: held.sha256, residencyClass: held.residencyClass };
  }

  /**
   * For the attempt's agent: each input's holder and, unless the node holds it, where to fetch it
   * and a read token naming this node and its jurisdiction (which the holder checks again).
   */
  inputGrants(job: JobRecord, task: TaskRef, node: NodeRecord): AttemptInput[] {
    const exp = this.options.clock.now() + INPUT_GRANT_MS;
    const namespace = job.namespace;
    return this.inputsOf(job, task).map((input) => {
      const base = { namespace, dataset: input.dataset, partition: input.partition, sha256: input.sha256, bytes: input.bytes, node: input.node };
      const holder = this.hot.nodes.get(input.node)?.record;
      if (input.node === node.name || holder === undefined) return { ...base, url: null, token: null };
      const token = signDataToken({
        op: 'read', namespace, dataset: input.dataset, partition: input.partition, node: input.node,
        for: node.name, forJurisdiction: node.jurisdiction, sha256: input.sha256, exp,
      }, this.options.keys.privateKey);
      return { ...base, url: partitionUrl(holder.dataUrl, { namespace, dataset: input.dataset, partition: input.partition }), token };
    });
  }

  /**
   * Where a task's output files go, if its stage has an `output`: partitions `<index>-<file>` of
   * that dataset, with the strictest residency class among the task's inputs, so derived data
   * stays where its sources had to (classes that do not nest: the one allowing fewest jurisdictions).
   */
  outputFor(job: JobRecord, task: TaskRef): AttemptOutput | undefined {
    const { output } = stageOf(job.spec, task.stage);
    if (output === undefined) return undefined;
    return { namespace: job.namespace, dataset: output.dataset, prefix: `${task.index}-`, residencyClass: this.strictestClass(this.inputsOf(job, task)) };
  }

  /** An accepted, successful attempt's output files: catalogued in the batch that records its result. */
  storeOutputs(attempt: AttemptRecord, job: JobRecord, task: TaskRef, outputs: NonNullable<AttemptResult['outputs']>): void {
    const output = this.outputFor(job, task);
    if (output === undefined) return;
    const now = this.options.clock.now();
    for (const file of outputs) {
      // The agent was told the prefix; a name without it is not one of this task's outputs.
      if (!file.partition.startsWith(output.prefix)) continue;
      this.catalogue({
        namespace: output.namespace, dataset: output.dataset, partition: file.partition, node: attempt.node, bytes: file.bytes,
        sha256: file.sha256, residencyClass: output.residencyClass, createdBy: attempt.id, createdAt: now,
      });
    }
  }

  private strictestClass(inputs: readonly TaskInput[]): string | null {
    const classes = [...new Set(inputs.flatMap((i) => (i.residencyClass === null ? [] : [i.residencyClass])))];
    if (classes.length <= 1) return classes[0] ?? null;
    const known = this.options.compliance().residencyClasses();
    const size = (name: string) => known.get(name)?.jurisdictions.size ?? 0;
    return classes.sort((a, b) => size(a) - size(b) || compareNames(a, b))[0]!;
  }

  /** A signed, short-lived grant for a client to PUT one partition's bytes to the node's agent. */
  createUpload(input: unknown): UploadGrant {
    const request = parseOrThrow(uploadRequestSchema, input, 'upload request');
    const live = this.requireNode(request.node);
    this.checkResidency(request.residencyClass, live);
    const expiresAt = this.options.clock.now() + UPLOAD_GRANT_MS;
    this.forgetExpiredGrants();
    this.grants.set(grantKey(request.node, request), { residencyClass: request.residencyClass, expiresAt });
    const token = signDataToken({
      op: 'write', namespace: request.namespace, dataset: request.dataset, partition: request.partition, node: request.node,
      for: 'client', forJurisdiction: null, residencyClass: request.residencyClass, exp: expiresAt,
    }, this.options.keys.privateKey);
    return { url: partitionUrl(live.record.dataUrl, request), token, expiresAt };
  }

  /** Asks the node's agent to take a file already on its disk into its store; resolves once it is catalogued. */
  register(input: unknown): Promise<PartitionRecord> {
    const request = parseOrThrow(registerRequestSchema, input, 'register request');
    const live = this.requireNode(request.node);
    this.checkResidency(request.residencyClass, live);
    const link = this.links.get(request.node);
    if (!link) throw new AtollError('unavailable', `node ${request.node} is not connected; start its agent and try again`);
    // Random, so an answer to a request made before a restart cannot resolve a new one.
    const requestId = randomBytes(8).toString('hex');
    return new Promise<PartitionRecord>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        reject(new AtollError('unavailable', `node ${request.node} did not store ${request.path} within ${REGISTER_TIMEOUT_MS / 1000} s; see its agent's log`));
      }, REGISTER_TIMEOUT_MS);
      this.waiting.set(requestId, { node: request.node, residencyClass: request.residencyClass, resolve, reject, timer });
      const { namespace, dataset, partition, path, residencyClass } = request;
      link.send({ type: 'data.register', requestId, namespace, dataset, partition, path, residencyClass });
    });
  }

  /**
   * Records a partition, replacing an entry of the same name. When the old entry lived on
   * another node, that node is told to drop its copy once this is committed: the catalog names
   * one holder per partition, and bytes nothing points at would only fill a disk.
   */
  private catalogue(record: PartitionRecord): void {
    const previous = this.hot.partitions.get(partitionId(record));
    this.sm.storePartition(record);
    if (previous === undefined || previous.node === record.node) return;
    const { namespace, dataset, partition } = previous;
    this.sm.afterCommit(() => this.links.get(previous.node)?.send({ type: 'data.remove', partitions: [{ namespace, dataset, partition }] }));
  }

  /** Drops a partition (or every partition of the dataset) from the catalog and from the agents that hold them. */
  async remove(namespace: string, dataset: string, partition?: string): Promise<{ readonly removed: readonly PartitionRecord[] }> {
    const all = this.partitionsOf(namespace, dataset);
    const removed = partition === undefined ? all : all.filter((p) => p.partition === partition);
    if (removed.length === 0) {
      throw partition === undefined ? datasetNotFound(namespace, dataset) : new AtollError('not_found', `partition "${partition}" of dataset "${dataset}" does not exist; list them with \`atoll data show ${dataset}\``);
    }
    for (const p of removed) this.sm.removePartition(p, 'removed by a user');
    await this.sm.committed();
    for (const [node, list] of groupByNode(removed)) {
      // An agent that is away keeps the bytes until it is told again; the catalog no longer points at them.
      this.links.get(node)?.send({ type: 'data.remove', partitions: list.map(({ namespace: ns, dataset: ds, partition: pt }) => ({ namespace: ns, dataset: ds, partition: pt })) });
    }
    return { removed };
  }

  /**
   * The agent stored a partition: catalogued if it answers this node's `register` or matches an
   * upload grant for this node, with the class that was checked then; anything else is ignored
   * and recorded.
   */
  onStored(node: string, message: Stored): void {
    const { requestId, namespace, dataset, partition, sha256, bytes } = message;
    const waiter = requestId === undefined ? undefined : this.waiting.get(requestId);
    const grant = requestId === undefined ? this.grants.get(grantKey(node, message)) : undefined;
    const expected = waiter?.node === node ? waiter : grant !== undefined && grant.expiresAt > this.options.clock.now() ? grant : undefined;
    if (expected === undefined) {
      this.sm.noteDataReportIgnored(node, { namespace, dataset, partition, reason: 'no register request or upload grant of this node names it' });
      return;
    }
    if (grant !== undefined) this.grants.delete(grantKey(node, message));
    const record: PartitionRecord = {
      namespace, dataset, partition, node, bytes, sha256, residencyClass: expected.residencyClass,
      createdBy: waiter === undefined ? 'upload' : 'register', createdAt: this.options.clock.now(),
    };
    this.catalogue(record);
    if (waiter === undefined) return;
    this.waiting.delete(requestId!);
    clearTimeout(waiter.timer);
    void this.sm.committed().then(() => waiter.resolve(record));
  }

  onFailed(node: string, message: Failed): void {
    const waiter = this.waiting.get(message.requestId);
    if (!waiter || waiter.node !== node) return;
    this.waiting.delete(message.requestId);
    clearTimeout(waiter.timer);
    waiter.reject(new AtollError('invalid_request', `node ${node} could not register the file: ${message.message}`));
  }

  onRefused(node: string, message: Refused): void {
    const { type: _type, ...data } = message;
    // Only the holder's word counts: anything else would let an agent fill the event log.
    if (this.hot.partitions.get(partitionId(message))?.node !== node) return;
    // Agents know classes by their jurisdictions only; the event names the policy behind the class.
    const residencyClass = this.hot.partitions.get(partitionId(message))?.residencyClass;
    const policy = data.policy ?? (residencyClass ? this.options.compliance().residencyClasses().get(residencyClass)?.policy ?? null : null);
    this.sm.noteTransferRefused(node, { ...data, policy });
  }

  /** A partition crossed the network for an attempt: the ledger entry, with both ends' locations. */
  onTransferred(node: string, message: Transferred): void {
    // Only for an attempt this node runs: the ledger is not open to any agent's say-so.
    const attempt = this.hot.attempts.get(message.attemptId);
    const to = this.hot.nodes.get(node)?.record;
    const job = attempt === undefined ? undefined : this.hot.jobs.get(attempt.jobId)?.record;
    const task = attempt === undefined ? undefined : this.hot.tasks.get(attempt.taskId);
    if (attempt?.node !== node || to === undefined || job === undefined || task === undefined) return;
    const { namespace, dataset, partition, bytes, durationMs, from } = message;
    // Only one of the inputs the attempt was given, from its holder, at its catalogued size: the
    // ledger and the bill are not open to whatever an agent reports.
    const input = namespace === job.namespace ? this.inputOf(job, task, dataset, partition) : undefined;
    if (input === undefined || input.node !== from || input.bytes !== bytes) {
      this.sm.noteDataReportIgnored(node, { namespace, dataset, partition, reason: `a transfer of ${bytes} bytes from ${from} for attempt ${attempt.id}, which was given no such input` });
      return;
    }
    this.sm.noteTransfer(attempt, to, { namespace, dataset, partition, bytes, durationMs, from });
  }

  /** Class -> country codes, as agents need them to check reads themselves. */
  residencyClassesForAgents(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, { jurisdictions }] of this.options.compliance().residencyClasses()) out[name] = [...jurisdictions].sort();
    return out;
  }

  close(): void {
    for (const { reject, timer } of this.waiting.values()) {
      clearTimeout(timer);
      reject(new AtollError('unavailable', 'the control plane is shutting down'));
    }
    this.waiting.clear();
  }

  private forgetExpiredGrants(): void {
    const now = this.options.clock.now();
    for (const [key, grant] of this.grants) if (grant.expiresAt <= now) this.grants.delete(key);
  }

  private partitionsOf(namespace: string, dataset: string): PartitionRecord[] {
    return [...this.hot.partitions.values()].filter((p) => p.namespace === namespace && p.dataset === dataset).sort((a, b) => compareNames(a.partition, b.partition));
  }

  private requireNode(name: string): LiveNode {
    const live = this.hot.nodes.get(name);
    if (!live) throw new AtollError('not_found', `node "${name}" does not exist; list them with \`atoll nodes\``);
    if (!isConnectedNodeState(live.record.state)) throw new AtollError('unavailable', `node ${name} is ${live.record.state}; data can only go to a connected node`);
    return live;
  }

  /** Data of a class may only be stored where the class may be read. */
  private checkResidency(residencyClass: string | null, live: LiveNode): void {
    if (residencyClass === null) return;
    const classes = this.options.compliance().residencyClasses();
    const found = classes.get(residencyClass);
    if (found === undefined) {
      const known = [...classes.keys()].sort();
      throw new AtollError('invalid_spec', `unknown residency class "${residencyClass}"; ${known.length > 0 ? `classes defined by policies: ${known.join(', ')}` : 'no policy defines one yet (see docs/policies.md)'}`, {
        problems: [{ path: 'residencyClass', message: `unknown residency class "${residencyClass}"` }],
      });
    }
    const where = live.record.jurisdiction;
    if (where === null || !found.jurisdictions.has(where)) {
      throw new AtollError('forbidden', `node ${live.record.name} is in ${where ?? 'no jurisdiction'}; data of residency class ${residencyClass} (policy ${found.policy}) may only be stored in [${[...found.jurisdictions].sort().join(', ')}]`);
    }
  }
}

/**
 * Where a partition is read or written: on the agent's data server at `dataUrl`
 * (src/agent/data-server.ts), or, for a node with no reachable data address, a path on the
 * control plane, which relays it over the agent's connection (src/server/data-relay.ts). The path
 * is resolved against whichever URL the caller reaches the control plane on.
 */
function partitionUrl(dataUrl: string | null, ref: { readonly namespace: string; readonly dataset: string; readonly partition: string }): string {
  const path = [ref.namespace, ref.dataset, ref.partition].map(encodeURIComponent).join('/');
  return dataUrl === null ? `/v1/data/relay/${path}` : `${dataUrl.replace(/\/$/, '')}/v1/data/${path}`;
}

function grantKey(node: string, ref: { readonly namespace: string; readonly dataset: string; readonly partition: string }): string {
  return `${node}\u0000${partitionId(ref)}`;
}

function summarize(items: readonly PartitionRecord[]): DatasetSummary {
  const first = items[0]!;
  return {
    namespace: first.namespace,
    name: first.dataset,
    partitions: items.length,
    bytes: items.reduce((sum, p) => sum + p.bytes, 0),
    nodes: [...new Set(items.map((p) => p.node))].sort(),
    residencyClasses: [...new Set(items.flatMap((p) => (p.residencyClass === null ? [] : [p.residencyClass])))].sort(),
  };
}

function groupByNode(items: readonly PartitionRecord[]): Map<string, PartitionRecord[]> {
  const out = new Map<string, PartitionRecord[]>();
  for (const p of items) out.set(p.node, [...(out.get(p.node) ?? []), p]);
  return out;
}

function datasetNotFound(namespace: string, name: string): AtollError {
  return new AtollError('not_found', `dataset "${name}" does not exist in namespace ${namespace}; list them with \`atoll data ls\``);
}
