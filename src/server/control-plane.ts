import type { Clock } from '../core/clock.js';
import { newJobRecord } from '../core/job-record.js';
import { AtollError, notFound } from '../core/errors.js';
import { parsePriceBook, type PriceBook } from '../core/price-book.js';
import type { SpendGroup, SpendReport } from '../core/spend.js';
import { newJobId } from '../core/ids.js';
import { compareNames } from '../core/collections.js';
import { partitionId } from '../core/data-spec.js';
import { summarizeTransfers, type TransferSummary } from '../core/transfers.js';
import { parseJobSpec, stageOf, type JobSpec } from '../core/job-spec.js';
import { healthyNodeState, isConnectedNodeState, isTerminalJob } from '../core/states.js';
import { effectiveTaints } from '../core/node-spec.js';
import type { PolicyChangeResult } from '../core/policy-impact.js';
import { parsePolicySpec, type PolicyRecord, type PolicySpec } from '../core/policy-spec.js';
import type { AttemptRecord, EventRecord, JobRecord, JobView, NodeRecord, NodeView, TaskCounts, TaskRecord, TaskView } from '../core/types.js';
import { exportPublicKey, type DataSigningKeys } from '../protocol/data-token.js';
import type { AgentMessage, HelloMessage } from '../protocol/messages.js';
import { Compliance, type Explanation } from '../scheduler/engine.js';
import { emptyCounts, sumCounts, type JobFilter, type Listing, type Store, type TokenRecord } from '../store/store.js';
import { type AgentLink, AgentLinks } from './agent-links.js';
import { DataRelay } from './data-relay.js';
import { EventBus } from './event-bus.js';
import { DataCatalog } from './data-catalog.js';
import { LivenessLoop } from './loops/liveness-loop.js';
import { describeChange, policyImpact } from './policy-impact.js';
import { SchedulingLoop, type SchedulingOptions } from './loops/scheduling-loop.js';
import { PRICE_BOOK_SETTING, Pricing } from './pricing.js';
import { SpendReports } from './spend-reports.js';
import { Budgets } from './budgets.js';
import type { JobEstimate } from '../core/estimate.js';
import { estimateJob } from './estimates.js';
import { CommitQueue } from './state/commit-queue.js';
import { HotState, type LiveNode, newLiveNode } from './state/hot-state.js';
import { StateMachine } from './state/state-machine.js';
import { JobSecrets, redactJobSpec } from './secrets/job-secrets.js';
import type { SecretCipher } from './secrets/secret-cipher.js';

export interface ControlPlaneOptions {
  readonly clock: Clock;
  /** How often agents send heartbeats. */
  readonly heartbeatMs: number;
  /** A node with no heartbeat for this long is unreachable. */
  readonly unreachableAfterMs: number;
  /** An unreachable node's attempts are declared lost (and re-placed) after this long. */
  readonly lostAfterMs: number;
  /** After a restart, how long nodes have to reconnect before their attempts are declared lost. */
  readonly restartGraceMs: number;
  /** Most pending tasks considered in one scheduling round. */
  readonly maxTasksPerRound: number;
  readonly onFatal: (error: unknown) => void;
  /** Signs data tokens; agents get the public half in `welcome`. */
  readonly dataKeys: DataSigningKeys;
  /** Seals job secrets at submit and opens them for the agent that runs an attempt. */
  readonly secrets: SecretCipher;
  /** Something went wrong that an operator should hear about but that stops nothing (a job with unreadable secrets). */
  readonly onWarning?: (message: string) => void;
  /** A scheduling round failed and placed nothing; it is retried after a back-off. */
  readonly onSchedulerError?: (error: unknown) => void;
  /** The price book to use when the store holds none yet (the first start); default list transfer prices only. */
  readonly priceBook?: PriceBook;
  /** A scheduling round looked at ready tasks (for metrics). */
  readonly onRound?: SchedulingOptions['onRound'];
  /** An agent's heartbeat arrived (for metrics). */
  readonly onHeartbeat?: () => void;
  /** An agent tried to act for another node (for the audit log); it was answered with a `forbidden` error. */
  readonly onAgentDenied?: (denial: AgentDenial) => void;
}

/** An agent's attempt to report or act on something that is not its node's. */
export interface AgentDenial {
  readonly node: string;
  readonly action: string;
  readonly target: string;
  readonly reason: string;
}

export type { AgentLink } from './agent-links.js';
/** How often jobs held by a budget are looked at again (a month ended, a budget was raised). */
const BUDGET_CHECK_MS = 60_000;
/** How often a node's last-seen time and usage are written through while it is healthy. */
const NODE_SEEN_PERSIST_MS = 30_000;
/** A reported round trip replaces the recorded one only when it moved by more than both of these. */
const RTT_CHANGE_MIN_MS = 1;
const RTT_CHANGE_MIN_SHARE = 0.1;

/**
 * The control plane's core: hot state, the state machine, the API commands and the agent
 * message handlers, with the scheduling and liveness loops beside them. HTTP and WebSocket
 * code call into it; it never calls out except through AgentLink and the store.
 */
export class ControlPlane {
  readonly bus = new EventBus();
  private readonly hot = new HotState();
  private readonly sm: StateMachine;
  private readonly links = new AgentLinks();
  private readonly scheduling: SchedulingLoop;
  readonly data: DataCatalog;
  readonly relay: DataRelay;
  readonly spend: SpendReports;
  readonly budgets: Budgets;
  private readonly secrets: JobSecrets;
  private readonly dataPublicKey: string;
  private liveness: LivenessLoop | undefined;
  private budgetTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The policies in force, compiled; dropped whenever one is applied or deleted. */
  private compliance: Compliance | undefined;

  private constructor(
    readonly store: Store,
    private readonly options: ControlPlaneOptions,
  ) {
    const queue = new CommitQueue(store, (changes) => this.bus.publish(changes.events, changes.logs, changes.charges), options.onFatal);
    this.sm = new StateMachine(this.hot, queue, options.clock);
    this.dataPublicKey = exportPublicKey(options.dataKeys.publicKey);
    this.secrets = new JobSecrets(options.secrets);
    this.data = new DataCatalog(this.hot, this.sm, this.links, { clock: options.clock, keys: options.dataKeys, compliance: () => this.currentCompliance() });
    this.spend = new SpendReports(this.hot, this.sm, store, options.clock);
    this.budgets = new Budgets(this.hot, this.sm, store, this.spend, options.clock);
    this.relay = new DataRelay(this.links, { publicKey: options.dataKeys.publicKey, clock: options.clock });
    this.scheduling = new SchedulingLoop(this.hot, this.sm, this.links, {
      ...options,
      inputsOf: (job, task) => this.data.inputsOf(job, task),
      inputGrants: (job, task, node) => this.data.inputGrants(job, task, node),
      outputFor: (job, task) => this.data.outputFor(job, task),
      secretsFor: (live, task, stage) => this.secrets.forAttempt(live.sealedSecrets, live.record.id, task.stage, stage),
    });
    this.sm.resolveStage = (job, index) => this.data.resolveStage(job, index);
  }

  /** Rebuilds hot state from the store and starts the liveness loop. */
  static async start(store: Store, options: ControlPlaneOptions): Promise<ControlPlane> {
    const plane = new ControlPlane(store, options);
    await plane.rebuild();
    await plane.cancelJobsWithUnreadableSecrets();
    plane.liveness = new LivenessLoop(plane.hot, plane.sm, plane.links, options, () => plane.requestSchedule());
    await plane.releaseHeldJobs();
    // Months end and budgets are raised while jobs wait: held jobs are looked at again now and then.
    plane.budgetTimer = setInterval(() => void plane.releaseHeldJobs(), BUDGET_CHECK_MS);
    plane.budgetTimer.unref();
    plane.requestSchedule();
    return plane;
  }

  private async rebuild(): Promise<void> {
    const now = this.options.clock.now();
    const active = await this.store.loadActiveState();
    const seqs = await this.store.maxSeqs();
    this.hot.lastEventSeq = seqs.event;
    this.hot.lastLogSeq = seqs.log;
    // No agent is connected yet: every node waits, unplaceable, for its agent to say hello again.
    // Agents need a moment to notice the restart and reconnect (their backoff is capped at 5 s).
    const lostDeadline = now + Math.max(this.options.lostAfterMs, this.options.restartGraceMs);
    for (const record of active.nodes) {
      const live = newLiveNode(record, false, now, lostDeadline);
      this.hot.nodes.set(record.name, live);
      if (isConnectedNodeState(record.state)) this.sm.setNodeState(live, 'unreachable', 'control plane restarted; waiting for the agent');
    }
    for (const policy of active.policies) this.hot.policies.set(policy.name, policy);
    const stored = await this.store.getSetting(PRICE_BOOK_SETTING);
    // A stored book was validated when applied; it is parsed again in case the schema moved on.
    if (stored !== undefined) this.hot.pricing = new Pricing(parsePriceBook(stored.value), stored.updatedAt);
    else if (this.options.priceBook !== undefined) this.sm.setPriceBook(this.options.priceBook);
    for (const partition of active.partitions) this.hot.partitions.set(partitionId(partition), partition);
    const counts = await this.store.countTasksByStage(active.jobs.map((j) => j.id));
    const sealed = new Map(active.jobSecrets.map((s) => [s.jobId, s.sealed]));
    for (const job of active.jobs) {
      const byStage = counts.get(job.id)!;
      const stageCounts = job.stages.map((_, i) => ({ ...(byStage[i] ?? emptyCounts()) }));
      const sealedSecrets = sealed.get(job.id);
      this.hot.jobs.set(job.id, { record: job, counts: { ...sumCounts(stageCounts) }, stageCounts, firstFailure: null, ...(sealedSecrets === undefined ? {} : { sealedSecrets }) });
    }
    for (const task of active.tasks) {
      this.hot.tasks.set(task.id, task);
      if (task.state === 'pending') this.hot.pending.add(task);
    }
    for (const live of this.hot.jobs.values()) {
      if (live.record.heldBy !== null) this.sm.explainHold(live, `namespace ${live.record.namespace} is over its monthly budget (policy ${live.record.heldBy}); the job starts when there is budget again`);
    }
    for (const attempt of active.attempts) {
      this.hot.attempts.set(attempt.id, attempt);
      const node = this.hot.nodes.get(attempt.node);
      const job = this.hot.jobs.get(attempt.jobId);
      if (!node || !job) continue;
      const task = this.hot.tasks.get(attempt.taskId);
      if (!task) continue;
      const { resources } = stageOf(job.record.spec, task.stage);
      node.attemptIds.add(attempt.id);
      node.allocatedCpuMillis += resources.cpu;
      node.allocatedMemoryBytes += resources.memory;
    }
  }

  /**
   * A job whose secrets no longer open (secrets.key was lost or replaced, the store was altered)
   * can never run as its submitter meant: it is cancelled, saying why, rather than run without
   * them or left to fail every scheduling round.
   */
  private async cancelJobsWithUnreadableSecrets(): Promise<void> {
    const unreadable: [string, string][] = [];
    for (const live of this.hot.jobs.values()) {
      const why = this.secrets.firstUnreadable(live.record.spec, live.sealedSecrets, live.record.id);
      if (why !== undefined) unreadable.push([live.record.id, why]);
    }
    if (unreadable.length === 0) return;
    for (const [jobId, why] of unreadable) {
      this.options.onWarning?.(`cancelling job ${jobId}: ${why}`);
      this.sm.cancelJob(jobId, `its secrets cannot be opened: ${why}; submit it again`);
    }
    await this.sm.committed();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.budgetTimer);
    this.liveness?.close();
    this.data.close();
    this.relay.close();
    this.scheduling.close();
    for (const link of this.links.values()) link.close(1001, 'control plane shutting down');
    this.links.clear();
    await this.sm.committed();
  }

  // ---- API commands ----

  /** Validates, stores and queues a job; resolves after it is committed. */
  async submitJob(input: unknown): Promise<JobView> {
    const spec = this.checkedSpec(input);
    const now = this.options.clock.now();
    // Refused here when the namespace's budget is spent; nothing is written for a refused job.
    const { warnings, heldBy } = await this.budgets.admit(spec.namespace);
    const id = newJobId(spec.name);
    // Sealed before anything is recorded: from here on only the redacted spec exists in the record.
    const { spec: redacted, sealed } = this.secrets.seal(spec, id);
    const job = newJobRecord(id, redacted, now, heldBy);
    this.sm.submitJob(job, sealed);
    const live = this.hot.jobs.get(job.id);
    if (heldBy !== null && live !== undefined) this.sm.holdJob(live, warnings[0] ?? `held by budget policy ${heldBy}`);
    await this.sm.committed();
    this.requestSchedule();
    const view = await this.jobView(job.id);
    return warnings.length === 0 ? view : { ...view, warnings };
  }

  /** Where the job would run now and what it would cost under each objective; stores nothing. */
  estimateJob(input: unknown): JobEstimate {
    // An estimate needs no secret: they are redacted before planning, so none can reach its answer.
    const spec = redactJobSpec(this.checkedSpec(input));
    return estimateJob(spec, newJobId(spec.name), this.options.clock.now(), {
      resolveStage: (job, index) => this.data.resolveStage(job, index),
      inputsOf: (job, task) => this.data.inputsOf(job, task),
      dryRun: (requests) => this.scheduling.dryRun(requests),
    });
  }

  /** A job spec parsed, its data resolved and its placement checked against the policies in force. */
  private checkedSpec(input: unknown): JobSpec {
    // Data is named in full at submit, so every task reads what existed when the job was accepted.
    const spec = this.data.resolveInputs(parseJobSpec(input));
    // Jurisdiction names resolve against the table the policies extend (`DACH`), so check them here.
    const regions = new Set([...this.hot.nodes.values()].map((n) => n.record.region));
    const compliance = this.currentCompliance();
    spec.stages.forEach((stage, i) => compliance.validatePlacement(stage, regions, spec.stages.length === 1 ? '' : `stages[${i}].`));
    return spec;
  }

  /** The job's transfer ledger summed up by boundary and route (from its `transfer.completed` events). */
  async jobTransfers(jobId: string): Promise<TransferSummary & { readonly jobId: string }> {
    if (!this.hot.jobs.has(jobId) && !(await this.store.getJob(jobId))) throw notFound('job', jobId);
    const events: EventRecord[] = [];
    for (;;) {
      const page = await this.store.listEvents({ afterSeq: events.at(-1)?.seq ?? 0, limit: 10_000, jobId });
      if (page.length === 0) break;
      events.push(...page);
    }
    return { jobId, ...summarizeTransfers(events) };
  }

  async cancelJob(jobId: string, reason = 'cancelled by user'): Promise<JobView> {
    if (!this.hot.jobs.has(jobId)) {
      const stored = await this.store.getJob(jobId);
      if (!stored) throw notFound('job', jobId);
      if (isTerminalJob(stored.state)) throw new AtollError('conflict', `job ${jobId} already ${stored.state}; nothing to cancel`);
    }
    const stopped = this.sm.cancelJob(jobId, reason);
    this.sm.afterCommit(() => this.links.sendCancels(stopped, reason));
    await this.sm.committed();
    this.requestSchedule();
    return this.jobView(jobId);
  }

  // ---- spend ----

  /** The price book in force and when it was applied (0: the built-in list prices). */
  priceBook(): { readonly book: PriceBook; readonly updatedAt: number } {
    return { book: this.hot.pricing.book, updatedAt: this.hot.pricing.updatedAt };
  }

  /** Jobs held by a budget that queues go on once their namespace has budget again. */
  async releaseHeldJobs(): Promise<void> {
    try {
      if ((await this.budgets.releaseHeld()) > 0) {
        await this.sm.committed();
        this.requestSchedule();
      }
    } catch (error) {
      // A store read failed: the jobs stay held until the next look, nothing else is affected.
      this.options.onSchedulerError?.(error);
    }
  }

  /** Validates and puts a new price book in force; placement uses it from the next round. */
  async setPriceBook(input: unknown): Promise<{ readonly book: PriceBook; readonly updatedAt: number }> {
    const book = parsePriceBook(input);
    this.sm.setPriceBook(book);
    await this.sm.committed();
    this.requestSchedule();
    return this.priceBook();
  }

  spendReport(query: { by?: SpendGroup; since?: number; namespace?: string; perDay?: boolean }): Promise<SpendReport> {
    return this.spend.report(query);
  }

  // ---- cluster policies ----

  /** Every policy in force, by name. */
  listPolicies(): PolicyRecord[] {
    return [...this.hot.policies.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  getPolicy(name: string): PolicyRecord {
    const policy = this.hot.policies.get(name);
    if (!policy) throw policyNotFound(name);
    return policy;
  }

  /**
   * Creates or replaces a policy; refused before anything changes if it, or any other policy
   * with it, does not compile. A dry run only reports what the policy would block. Work already
   * running on nodes the policy denies keeps running: policies govern placement, not eviction.
   */
  async applyPolicy(input: unknown, options: { readonly dryRun?: boolean } = {}): Promise<PolicyChangeResult> {
    const spec = parsePolicySpec(input);
    const existing = this.hot.policies.get(spec.name);
    const next = this.policySpecs({ put: spec });
    compileChange(next, spec);
    const now = this.options.clock.now();
    const policy: PolicyRecord = { name: spec.name, spec, createdAt: existing?.createdAt ?? now, updatedAt: now };
    const impact = policyImpact(this.hot, this.policySpecs({}), next, (job, task) => this.data.inputsOf(job, task));
    const dryRun = options.dryRun === true;
    if (!dryRun) {
      this.sm.applyPolicy(policy);
      this.compliance = undefined;
      await this.sm.committed();
      this.sendResidencyClasses();
      // A raised or removed budget may release held jobs.
      await this.releaseHeldJobs();
      // Pending tasks are placed again under the new rules (a loosened policy may free them).
      this.requestSchedule();
    }
    const verb = dryRun ? 'would be' : 'was';
    const what = `policy "${spec.name}" ${verb} ${existing === undefined ? 'created' : 'replaced'}`;
    return { policy, dryRun, created: existing === undefined, impact, message: describeChange(dryRun ? `dry run: ${what}` : what, impact) };
  }

  /** Removes a policy; refused while another policy still uses a jurisdiction group it defines. */
  async deletePolicy(name: string): Promise<PolicyChangeResult> {
    const existing = this.hot.policies.get(name);
    if (!existing) throw policyNotFound(name);
    const next = this.policySpecs({ remove: name });
    try {
      Compliance.compile(next);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      throw new AtollError('conflict', `cannot delete policy "${name}": without it, ${error.message}; change that policy first`, { cause: error });
    }
    // Jobs that named one of its jurisdiction groups lose those jurisdictions, so a delete can block work too.
    const impact = policyImpact(this.hot, this.policySpecs({}), next, (job, task) => this.data.inputsOf(job, task));
    const policy = this.sm.deletePolicy(name);
    this.compliance = undefined;
    await this.sm.committed();
    this.sendResidencyClasses();
    await this.releaseHeldJobs();
    this.requestSchedule();
    return { policy, dryRun: false, created: false, impact, message: describeChange(`policy "${name}" was deleted`, impact) };
  }

  /** Agents check reads against residency classes themselves, so they hear of every change. */
  private sendResidencyClasses(): void {
    const residencyClasses = this.data.residencyClassesForAgents();
    for (const node of this.hot.nodes.keys()) this.links.get(node)?.send({ type: 'data.classes', residencyClasses });
  }

  /** The policies in force by name, with one put in or taken out. */
  private policySpecs(change: { readonly put?: PolicySpec; readonly remove?: string }): PolicySpec[] {
    const byName = new Map([...this.hot.policies].map(([name, record]) => [name, record.spec]));
    if (change.put) byName.set(change.put.name, change.put);
    if (change.remove !== undefined) byName.delete(change.remove);
    return [...byName.entries()].sort(([a], [b]) => compareNames(a, b)).map(([, spec]) => spec);
  }

  private currentCompliance(): Compliance {
    this.compliance ??= Compliance.compile(this.policySpecs({}));
    return this.compliance;
  }

  // ---- API reads (committed state, with live counts for active jobs) ----

  /** One job, with its counts and what it has cost so far. */
  async jobView(jobId: string): Promise<JobView> {
    const job = await this.store.getJob(jobId);
    if (!job) throw notFound('job', jobId);
    const [[view], cost] = await Promise.all([this.withCounts([job]), this.spend.job(jobId)]);
    return { ...view!, cost };
  }

  async listJobs(filter: JobFilter): Promise<Listing<JobView>> {
    const listing = await this.store.listJobs(filter);
    return { items: await this.withCounts(listing.items), total: listing.total };
  }

  private async withCounts(jobs: readonly JobRecord[]): Promise<JobView[]> {
    const counts = await this.store.countTasksByStage(jobs.map((j) => j.id));
    return jobs.map((job) => {
      const byStage = counts.get(job.id)!;
      const stages = job.stages.map((run, i) => ({ ...run, dependsOn: job.spec.stages[i]?.dependsOn ?? [], counts: byStage[i] ?? emptyCounts() }));
      return { ...job, counts: sumCounts(byStage), stages };
    });
  }

  /** Why a pending task is still waiting, if it has been considered. */
  waitingReason(taskId: string): string | undefined {
    return this.hot.waitingReasons.get(taskId);
  }

  /** A task as the API shows it: why it waits, or where its node is (provider to jurisdiction). */
  taskView(task: TaskRecord, job: Pick<JobRecord, 'stages'>): TaskView {
    const stageName = job.stages[task.stage]?.name ?? String(task.stage);
    const waiting = task.state === 'pending' ? this.waitingReason(task.id) : undefined;
    const node = task.node === null ? undefined : this.hot.nodes.get(task.node)?.record;
    return {
      ...task,
      stageName,
      ...(waiting === undefined ? {} : { reason: waiting }),
      ...(node === undefined ? {} : { location: { provider: node.provider, region: node.region, zone: node.zone, site: node.site, jurisdiction: node.jurisdiction } }),
    };
  }

  /** Nodes with their live state (the store may lag behind heartbeats). */
  listNodes(): NodeView[] {
    return this.nodeRecords().map((record) => this.nodeView(record));
  }

  /** Every node's record by name, without the price lookup a view adds (for filtering and summing). */
  nodeRecords(): NodeRecord[] {
    return [...this.hot.nodes.values()].map((n) => n.record).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Tasks of the jobs not finished yet, by state (finished jobs leave hot state with their tasks). */
  activeTaskCounts(): TaskCounts {
    return sumCounts([...this.hot.jobs.values()].map((job) => job.counts));
  }

  getNode(name: string): NodeView {
    return this.nodeView(this.requireNode(name).record);
  }

  nodeView(record: NodeRecord): NodeView {
    const price = this.hot.pricing.node(record);
    return { ...record, price: { hour: price.hour, from: price.from, source: price.rule?.source ?? null } };
  }

  /** No new work for the node; what runs there carries on. Kept until uncordoned, across reconnects. */
  async cordonNode(name: string): Promise<NodeRecord> {
    const live = this.requireNode(name);
    if (live.record.drainDeadline === null) this.sm.setNodeHold(live, { cordoned: true, drainDeadline: null }, 'cordoned by an operator');
    await this.sm.committed();
    return live.record;
  }

  /** Ends a cordon or a drain in progress: the node takes new work again once it is connected. */
  async uncordonNode(name: string): Promise<NodeRecord> {
    const live = this.requireNode(name);
    this.sm.setNodeHold(live, { cordoned: false, drainDeadline: null }, 'uncordoned by an operator');
    await this.sm.committed();
    this.requestSchedule();
    return live.record;
  }

  /**
   * No new work for the node; its attempts may finish until `deadlineMs` from now, then those
   * still running are stopped and placed elsewhere (without using their retry or node-loss
   * budgets). Once nothing runs there the drain is complete and the node stays cordoned.
   */
  async drainNode(name: string, deadlineMs: number): Promise<NodeRecord> {
    const live = this.requireNode(name);
    const deadline = this.options.clock.now() + deadlineMs;
    // A second drain may bring the deadline forward, never push it back.
    const current = live.record.drainDeadline;
    this.sm.setNodeHold(live, { cordoned: true, drainDeadline: current === null ? deadline : Math.min(current, deadline) }, `drain requested (deadline in ${deadlineMs} ms)`);
    await this.sm.committed();
    // The liveness loop moves the work at the deadline: now for a zero deadline, else on time.
    this.liveness?.checkNow();
    if (deadlineMs > 0) this.liveness?.checkAt(deadline);
    await this.sm.committed();
    return live.record;
  }

  private requireNode(name: string): LiveNode {
    const live = this.hot.nodes.get(name);
    if (!live) throw notFound('node', name);
    return live;
  }

  async explanation(taskId: string): Promise<Explanation | undefined> {
    const placed = await this.store.latestTaskEvent(taskId, 'task.placed');
    return placed?.data.explanation as Explanation | undefined;
  }

  // ---- agents ----

  /** An identity event (join, refusal, certificate, revocation), committed before this resolves. */
  async noteIdentity(type: Parameters<StateMachine['noteIdentity']>[0], node: string | null, data: Record<string, unknown>): Promise<void> {
    this.sm.noteIdentity(type, node, data);
    await this.sm.committed();
  }

  /** Closes the node's live connection, if any (its credentials were revoked). */
  disconnectNode(nodeName: string, reason: string): void {
    this.links.get(nodeName)?.close(4403, reason);
  }

  isConnected(nodeName: string): boolean {
    return this.links.has(nodeName);
  }

  /** Revokes the node's earlier credentials and stores the new one, so only the latest agent can connect. */
  async replaceNodeCredential(nodeName: string, token: TokenRecord): Promise<void> {
    await this.store.write({ revokeNodeTokens: [{ node: nodeName, at: this.options.clock.now() }], tokens: [token] });
  }

  agentConnected(nodeName: string, link: AgentLink, hello: HelloMessage): void {
    const now = this.options.clock.now();
    const previous = this.links.get(nodeName);
    if (previous && previous !== link) previous.close(4000, 'replaced by a newer connection from the same node');
    this.links.set(nodeName, link);
    const { node } = hello;
    const existing = this.hot.nodes.get(nodeName);
    const hold = { cordoned: existing?.record.cordoned ?? false, drainDeadline: existing?.record.drainDeadline ?? null };
    const record: NodeRecord = {
      name: nodeName, provider: node.provider, region: node.region, zone: node.zone, site: node.site, kind: node.kind,
      jurisdiction: node.jurisdiction ?? null, lat: node.geo?.lat ?? null, lon: node.geo?.lon ?? null,
      capacity: { cpuMillis: node.cpu, memoryBytes: node.memory }, priceHour: node.priceHour, labels: node.labels,
      taints: effectiveTaints(node), rttMs: node.rttMs, agentVersion: hello.agentVersion, joinedAt: existing?.record.joinedAt ?? now, lastSeenAt: now,
      // An operator's cordon or drain outlives the connection.
      ...hold, state: healthyNodeState(hold), dataUrl: hello.dataUrl ?? null,
      usage: existing?.record.usage ?? { runningAttempts: 0, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 },
    };
    const live = this.sm.nodeJoined(record);
    this.reconcile(live, link, hello);
    link.send({
      type: 'welcome', protocol: hello.protocol, node: nodeName, heartbeatMs: this.options.heartbeatMs,
      dataPublicKey: this.dataPublicKey, residencyClasses: this.data.residencyClassesForAgents(),
    });
    this.requestSchedule();
  }

  /**
   * The agent says what it runs and which results it still holds. Attempts we think it runs but
   * it does not know are lost; attempts it runs that are no longer current are told to stop.
   */
  private reconcile(live: LiveNode, link: AgentLink, hello: HelloMessage): void {
    const reported = new Set(hello.running.map((r) => r.attemptId));
    const held = new Set(hello.finished);
    for (const id of [...live.attemptIds]) {
      const attempt = this.hot.attempts.get(id);
      if (attempt && !reported.has(id) && !held.has(id)) this.sm.loseAttempt(attempt, `${live.record.name} restarted without it`);
    }
    for (const r of hello.running) {
      const attempt = this.currentAttemptOn(live, r.attemptId, r.epoch);
      if (attempt && typeof r.startedAt === 'number') this.sm.markStarted(attempt, r.startedAt);
    }
    const stale = hello.running.filter((r) => {
      const attempt = this.hot.attempts.get(r.attemptId);
      return !attempt || attempt.node !== live.record.name || attempt.epoch !== r.epoch;
    });
    if (stale.length > 0) {
      const reason = 'replaced: the control plane gave this task to another attempt';
      this.sm.afterCommit(() => link.send({ type: 'attempts.cancel', attempts: stale.map((s) => ({ attemptId: s.attemptId, reason })) }));
    }
  }

  agentDisconnected(nodeName: string, link: AgentLink): void {
    this.relay.disconnected(link);
    if (this.links.get(nodeName) !== link) return;
    this.links.delete(nodeName);
    const live = this.hot.nodes.get(nodeName);
    if (!live || this.closed) return;
    live.connected = false;
    if (live.leaving) {
      this.nodeLeft(live);
      return;
    }
    if (!isConnectedNodeState(live.record.state)) return;
    live.lostDeadline = this.options.clock.now() + this.options.lostAfterMs;
    this.liveness?.checkAt(live.lostDeadline);
    this.sm.setNodeState(live, 'unreachable', 'agent connection closed');
  }

  /**
   * The agent that said it was leaving (and is `left` since) closed its connection: there is no
   * grace to wait out. Anything it did not report stopped is moved elsewhere now.
   */
  private nodeLeft(live: LiveNode): void {
    live.lostDeadline = null;
    this.sm.setNodeState(live, 'left', 'agent shut down');
    for (const id of [...live.attemptIds]) {
      const attempt = this.hot.attempts.get(id);
      if (attempt) this.sm.loseAttempt(attempt, `${live.record.name} left without reporting it`, 'moved');
    }
    this.requestSchedule();
  }

  agentMessage(nodeName: string, link: AgentLink, message: AgentMessage): void {
    const live = this.hot.nodes.get(nodeName);
    if (!live || this.links.get(nodeName) !== link) return;
    // Anything the agent sends shows it is alive: a heartbeat may queue behind relayed data on a slow uplink.
    live.lastHeartbeatAt = Math.max(live.lastHeartbeatAt, this.options.clock.now());
    if (this.deniedOthersAttempts(nodeName, link, message)) return;
    switch (message.type) {
      case 'hello':
        throw new AtollError('invalid_request', 'hello may only be the first message');
      case 'heartbeat':
        return this.onHeartbeat(live, message.usage, message.rttMs);
      case 'attempts.started':
        for (const started of message.attempts) {
          const attempt = this.currentAttemptOn(live, started.attemptId, started.epoch);
          if (attempt) this.sm.markStarted(attempt, started.startedAt);
        }
        return;
      case 'attempts.logs':
        return this.onLogs(live, message.chunks);
      case 'attempts.results':
        return this.onResults(live, link, message.results);
      case 'data.stored':
        return this.data.onStored(nodeName, message);
      case 'data.failed':
        return this.data.onFailed(nodeName, message);
      case 'data.refused':
        return this.data.onRefused(nodeName, message);
      case 'data.transferred':
        return this.data.onTransferred(nodeName, message);
      case 'relay.reply':
      case 'relay.credit':
      case 'relay.end':
      case 'relay.cancel':
        return this.relay.onMessage(nodeName, message);
      case 'leaving':
        // Out of placement at once: the tasks it is about to report stopped must not come back here.
        live.leaving = true;
        this.sm.setNodeState(live, 'left', 'agent shutting down');
        return;
    }
  }

  /**
   * Node identity: an agent reports only its own node's attempts. A report naming another node's
   * attempt is refused whole (nothing of it is applied), answered with a `forbidden` error and
   * audited. Its own stale attempts are not this: those are fenced and recorded as ignored.
   */
  private deniedOthersAttempts(nodeName: string, link: AgentLink, message: AgentMessage): boolean {
    const ids = attemptIdsIn(message);
    const foreign = ids.find((id) => {
      const owner = this.hot.attempts.get(id)?.node;
      return owner !== undefined && owner !== nodeName;
    });
    if (foreign === undefined) return false;
    const owner = this.hot.attempts.get(foreign)!.node;
    const reason = `node ${nodeName} may report only its own attempts; ${foreign} runs on ${owner}`;
    link.send({ type: 'error', code: 'forbidden', message: `${message.type} refused: ${reason}` });
    this.options.onAgentDenied?.({ node: nodeName, action: `agent.${message.type}`, target: foreign, reason });
    return true;
  }

  /** A binary frame on the agent's connection: bytes of a relayed read. */
  agentFrame(nodeName: string, link: AgentLink, frame: Buffer): void {
    const live = this.hot.nodes.get(nodeName);
    if (!live || this.links.get(nodeName) !== link) return;
    live.lastHeartbeatAt = Math.max(live.lastHeartbeatAt, this.options.clock.now());
    this.relay.onFrame(nodeName, frame);
  }

  private onHeartbeat(live: LiveNode, usage: NodeRecord['usage'], rttMs: NodeRecord['rttMs'] | undefined): void {
    this.options.onHeartbeat?.();
    const now = this.options.clock.now();
    const persist = now - live.record.lastSeenAt >= NODE_SEEN_PERSIST_MS;
    live.lastHeartbeatAt = now;
    live.record = { ...live.record, usage, lastSeenAt: now };
    // Jitter alone keeps the old object, so it does not invalidate what the scheduler cached for the fleet.
    if (rttMs !== undefined && rttMovedEnough(live.record.rttMs, rttMs)) this.sm.setNodeRtt(live, rttMs);
    if (!isConnectedNodeState(live.record.state) && !live.leaving) {
      live.lostDeadline = null;
      this.sm.setNodeState(live, healthyNodeState(live.record), 'heartbeats resumed');
      this.requestSchedule();
    } else if (persist) {
      this.sm.persistNodeSeen(live);
    }
  }

  private onLogs(live: LiveNode, chunks: Extract<AgentMessage, { type: 'attempts.logs' }>['chunks']): void {
    const byAttempt = new Map<string, typeof chunks[number][]>();
    for (const chunk of chunks) {
      const list = byAttempt.get(chunk.attemptId) ?? [];
      list.push(chunk);
      byAttempt.set(chunk.attemptId, list);
    }
    for (const [id, list] of byAttempt) {
      const attempt = this.hot.attempts.get(id);
      if (attempt && attempt.node === live.record.name) this.sm.appendLogs(attempt, list);
    }
  }

  private onResults(live: LiveNode, link: AgentLink, results: Extract<AgentMessage, { type: 'attempts.results' }>['results']): void {
    for (const result of results) {
      const attempt = this.currentAttemptOn(live, result.attemptId, result.epoch);
      if (attempt) {
        // Read before finishAttempt: a job whose last task this is leaves hot state with it.
        const job = this.hot.jobs.get(attempt.jobId)?.record;
        const task = this.hot.tasks.get(attempt.taskId);
        // Outputs count only with the result they belong to: a stale attempt's files are never
        // catalogued. Before the result, so a stage that starts because of it finds them.
        if (result.outcome === 'succeeded' && result.outputs !== undefined && job !== undefined && task !== undefined) this.data.storeOutputs(attempt, job, task, result.outputs);
        this.sm.finishAttempt(attempt, result);
      } else this.sm.recordIgnoredResult(live.record.name, result, this.whyNotCurrent(live, result.attemptId));
    }
    const ids = results.map((r) => r.attemptId);
    // Acknowledge only after the results (or their refusal) are committed: the agent then forgets them.
    this.sm.afterCommit(() => link.send({ type: 'results.ack', attemptIds: ids }));
    this.requestSchedule();
  }

  /** Fencing: only the task's current attempt, on the node it was given to, with its epoch, counts. */
  private currentAttemptOn(live: LiveNode, attemptId: string, epoch: number): AttemptRecord | undefined {
    const attempt = this.hot.attempts.get(attemptId);
    if (!attempt || attempt.node !== live.record.name || attempt.epoch !== epoch) return undefined;
    const task = this.hot.tasks.get(attempt.taskId);
    return task?.currentAttemptId === attempt.id ? attempt : undefined;
  }

  requestSchedule(): void {
    this.scheduling.request();
  }

  private whyNotCurrent(live: LiveNode, attemptId: string): string {
    const attempt = this.hot.attempts.get(attemptId);
    if (attempt && attempt.node !== live.record.name) return `attempt belongs to node ${attempt.node}, not ${live.record.name}`;
    return 'attempt is not current (it finished, was lost, cancelled or replaced)';
  }

}

/** The attempts an agent message reports on. */
function attemptIdsIn(message: AgentMessage): string[] {
  switch (message.type) {
    case 'attempts.started':
      return message.attempts.map((a) => a.attemptId);
    case 'attempts.logs':
      return message.chunks.map((c) => c.attemptId);
    case 'attempts.results':
      return message.results.map((r) => r.attemptId);
    case 'data.transferred':
      return [message.attemptId];
    default:
      return [];
  }
}

function policyNotFound(name: string): AtollError {
  return new AtollError('not_found', `policy "${name}" does not exist; list them with \`atoll policy list\``);
}

/**
 * Compiles the policies that would be in force. Problems of the changed policy itself (checked
 * against every group the others define) stay `invalid_spec` with its field paths. A failure in
 * another policy, because the change dropped a jurisdiction group it uses, is a conflict, so its
 * paths are not mistaken for the change's.
 */
function compileChange(next: readonly PolicySpec[], changed: PolicySpec): void {
  const othersGroups = next
    .filter((p) => p.name !== changed.name && p.jurisdictionGroups !== undefined)
    .map((p): PolicySpec => ({ name: p.name, jurisdictionGroups: p.jurisdictionGroups }));
  Compliance.compile([changed, ...othersGroups]);
  try {
    Compliance.compile(next);
  } catch (error) {
    if (!isRefusal(error)) throw error;
    throw new AtollError('conflict', `policy "${changed.name}" would leave another policy invalid: ${error.message}; change that policy first`, { cause: error });
  }
}

/** A policy set the compiler refuses (as opposed to a bug): bad names, groups or members. */
function isRefusal(error: unknown): error is AtollError {
  return error instanceof AtollError && (error.code === 'invalid_spec' || error.code === 'invalid_request');
}

/** A region came or went, or a round trip moved by more than 1 ms and 10%: enough to re-rank nodes. */
export function rttMovedEnough(recorded: Readonly<Record<string, number>>, reported: Readonly<Record<string, number>>): boolean {
  const regions = Object.keys(reported);
  if (regions.length !== Object.keys(recorded).length) return true;
  return regions.some((region) => {
    if (!Object.hasOwn(recorded, region)) return true;
    const before = recorded[region]!;
    return Math.abs(reported[region]! - before) > Math.max(RTT_CHANGE_MIN_MS, before * RTT_CHANGE_MIN_SHARE);
  });
}
