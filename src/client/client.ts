import type { DatasetSummary, PartitionRecord, UploadGrant } from '../core/data-spec.js';
import type { JobSpecInput } from '../core/job-spec.js';
import type { TransferSummary } from '../core/transfers.js';
import type { PolicyChangeResult } from '../core/policy-impact.js';
import type { PolicyRecord } from '../core/policy-spec.js';
import type { AuditRecord, JoinTokenView, NodeIdentityView, Role, TokenView } from '../core/access.js';
import type { BudgetStatus } from '../core/budget.js';
import type { FleetSummary } from '../core/fleet-summary.js';
import type { JobEstimate } from '../core/estimate.js';
import type { PriceBook } from '../core/price-book.js';
import type { SpendReport } from '../core/spend.js';
import type { AttemptRecord, EventRecord, JobView, LogChunk, NodeRecord, NodeView, TaskView } from '../core/types.js';
import type { Explanation } from '../scheduler/engine.js';
import { readSse, type SseMessage } from './sse-reader.js';

// The typed HTTP client used by the CLI, the dashboard and the tests. It speaks only /v1.

export interface Listing<T> {
  readonly items: readonly T[];
  readonly total: number;
}

export type TaskDetail = TaskView & { readonly history: readonly AttemptRecord[] };

export interface TaskExplanation {
  readonly taskId: string;
  readonly node: string | null;
  readonly explanation: Explanation | null;
  readonly waiting: string | null;
}

export interface ApiProblem {
  readonly path: string;
  readonly message: string;
}

/** An error answer from the control plane, with its stable code and field problems. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: readonly ApiProblem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A join token as the API shows it (the client's name for core's JoinTokenView). */
export type JoinTokenInfo = JoinTokenView;

/** A node's identity as the API shows it (the client's name for core's NodeIdentityView). */
export type NodeIdentityInfo = NodeIdentityView;

export interface ClientOptions {
  readonly server: string;
  readonly token: string;
  /** The fetch to use; left out, the global one. Node callers pass tls-fetch's fetchTrusting(ca) to trust the cluster CA. */
  readonly fetch?: typeof fetch;
}

type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export class AtollClient {
  constructor(private readonly options: ClientOptions) {}

  get server(): string {
    return this.options.server;
  }

  /** A dry run: where the job would go now and what it would cost under each objective. */
  estimateJob(spec: JobSpecInput | unknown): Promise<JobEstimate> {
    return this.request('POST', '/v1/jobs/estimate', { body: spec });
  }

  submitJob(spec: JobSpecInput | unknown): Promise<JobView> {
    return this.request('POST', '/v1/jobs', { body: spec });
  }

  listJobs(query: { namespace?: string; state?: string; limit?: number; offset?: number } = {}): Promise<Listing<JobView>> {
    return this.request('GET', '/v1/jobs', { query });
  }

  getJob(id: string): Promise<JobView> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /** What the job moved between nodes, by boundary (same site, cross-site, cross-region, cross-provider) and route. */
  jobTransfers(id: string): Promise<TransferSummary & { readonly jobId: string }> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(id)}/transfers`);
  }

  cancelJob(id: string): Promise<JobView> {
    return this.request('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  listTasks(jobId: string, query: { state?: string; limit?: number; offset?: number } = {}): Promise<Listing<TaskView>> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/tasks`, { query });
  }

  /** Every task of a job, fetched page by page. */
  async allTasks(jobId: string, pageSize = 10_000): Promise<TaskView[]> {
    const out: TaskView[] = [];
    for (;;) {
      const page = await this.listTasks(jobId, { limit: pageSize, offset: out.length });
      out.push(...page.items);
      if (page.items.length === 0 || out.length >= page.total) return out;
    }
  }

  /** Every task's state, one character per task index (p, a, r, s, f, c). */
  taskStates(jobId: string): Promise<{ jobId: string; states: string }> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}/task-states`);
  }

  getTask(id: string): Promise<TaskDetail> {
    return this.request('GET', `/v1/tasks/${encodeURIComponent(id)}`);
  }

  explainTask(id: string): Promise<TaskExplanation> {
    return this.request('GET', `/v1/tasks/${encodeURIComponent(id)}/explanation`);
  }

  getLogs(id: string, query: { attempt?: number | 'all'; after?: number } = {}): Promise<{ items: LogChunk[]; state: string }> {
    return this.request('GET', `/v1/tasks/${encodeURIComponent(id)}/logs`, { query });
  }

  /** Streams log chunks until the task ends (the server sends `end`) or the signal aborts. */
  async *followLogs(id: string, query: { attempt?: number | 'all' } = {}, signal?: AbortSignal): AsyncGenerator<SseMessage> {
    yield* this.stream(`/v1/tasks/${encodeURIComponent(id)}/logs`, { ...query, follow: true }, signal);
  }

  /** Every node, or with `limit` a page of them in name order; `q` matches names, places and label values. */
  listNodes(query: { state?: string; q?: string; limit?: number; offset?: number } = {}): Promise<Listing<NodeView>> {
    return this.request('GET', '/v1/nodes', { query });
  }

  /** Node counts by state, provider and region, and the sites nodes stand at. */
  fleetSummary(): Promise<FleetSummary> {
    return this.request('GET', '/v1/fleet');
  }

  getNode(name: string): Promise<NodeView> {
    return this.request('GET', `/v1/nodes/${encodeURIComponent(name)}`);
  }

  /** Takes the node out of placement; what runs there carries on. */
  cordonNode(name: string): Promise<NodeRecord> {
    return this.request('POST', `/v1/nodes/${encodeURIComponent(name)}/cordon`);
  }

  /** A join token, optionally scoped; the answer is the only place its secret (`token`) appears. */
  createJoinToken(scope: { pool?: string; labels?: Readonly<Record<string, string>>; expiresIn?: string; singleUse?: boolean } = {}): Promise<JoinTokenInfo & { readonly token: string }> {
    return this.request('POST', '/v1/join-tokens', { body: scope });
  }

  listJoinTokens(): Promise<Listing<JoinTokenInfo>> {
    return this.request('GET', '/v1/join-tokens');
  }

  revokeJoinToken(id: string): Promise<JoinTokenInfo> {
    return this.request('DELETE', `/v1/join-tokens/${encodeURIComponent(id)}`);
  }

  /** Revokes the node's certificate and credential; its connection closes and it cannot rejoin without a newer token. */
  revokeNode(name: string): Promise<NodeIdentityInfo> {
    return this.request('POST', `/v1/nodes/${encodeURIComponent(name)}/revoke`);
  }

  listNodeIdentities(): Promise<Listing<NodeIdentityInfo>> {
    return this.request('GET', '/v1/node-identities');
  }

  uncordonNode(name: string): Promise<NodeRecord> {
    return this.request('POST', `/v1/nodes/${encodeURIComponent(name)}/uncordon`);
  }

  /** Cordons the node and moves its work off by `deadline` (a duration like `10m`, or ms; `0` moves it now). */
  drainNode(name: string, options: { deadline?: string | number } = {}): Promise<NodeRecord> {
    return this.request('POST', `/v1/nodes/${encodeURIComponent(name)}/drain`, { body: options });
  }

  listDatasets(query: { namespace?: string } = {}): Promise<Listing<DatasetSummary>> {
    return this.request('GET', '/v1/datasets', { query });
  }

  getDataset(name: string, query: { namespace?: string } = {}): Promise<DatasetSummary & { readonly items: readonly PartitionRecord[] }> {
    return this.request('GET', `/v1/datasets/${encodeURIComponent(name)}`, { query });
  }

  /** Removes the dataset, or one of its partitions, from the catalog and from the nodes holding it. */
  removeData(name: string, query: { namespace?: string; partition?: string } = {}): Promise<{ readonly removed: readonly PartitionRecord[] }> {
    return this.request('DELETE', `/v1/datasets/${encodeURIComponent(name)}`, { query });
  }

  /** A signed grant to PUT one partition's bytes straight to the agent of `node`. */
  createUpload(request: { namespace?: string; dataset: string; partition: string; node: string; residencyClass?: string | null }): Promise<UploadGrant> {
    return this.request('POST', '/v1/data/uploads', { body: request });
  }

  /** Takes a file already on the node's disk into its store as a partition. */
  registerData(request: { namespace?: string; dataset: string; partition: string; node: string; path: string; residencyClass?: string | null }): Promise<PartitionRecord> {
    return this.request('POST', '/v1/data/register', { body: request });
  }

  /** `per: 'day'` splits each group by UTC day (rows carry `day`). */
  spend(query: { by?: string; since?: string; namespace?: string; per?: 'day' } = {}): Promise<SpendReport> {
    return this.request('GET', '/v1/spend', { query });
  }

  listBudgets(): Promise<Listing<BudgetStatus>> {
    return this.request('GET', '/v1/budgets');
  }

  /** A new API token; its secret is in the answer and nowhere else. */
  createToken(request: { name: string; role: Role; namespaces?: readonly string[] | null }): Promise<{ token: TokenView; secret: string }> {
    return this.request('POST', '/v1/tokens', { body: request });
  }

  listTokens(query: { revoked?: boolean } = {}): Promise<Listing<TokenView>> {
    return this.request('GET', '/v1/tokens', { query });
  }

  /** Revokes the token; its live streams end at once. */
  revokeToken(id: string): Promise<TokenView> {
    return this.request('POST', `/v1/tokens/${encodeURIComponent(id)}/revoke`);
  }

  /** A new secret for the token's scope; the old one stops working. */
  rotateToken(id: string): Promise<{ token: TokenView; secret: string; replaced: string }> {
    return this.request('POST', `/v1/tokens/${encodeURIComponent(id)}/rotate`);
  }

  /** The token this client signs in with: its role and namespaces. */
  whoami(): Promise<TokenView> {
    return this.request('GET', '/v1/whoami');
  }

  /** A one-time dashboard sign-in link (a path on the control plane with the code in its fragment), good for minutes. */
  createSignInLink(): Promise<{ path: string; code: string; expiresAt: number }> {
    return this.request('POST', '/v1/sign-in-links', { body: {} });
  }

  listAudit(query: { after?: number; since?: string; actor?: string; outcome?: string; namespace?: string; limit?: number } = {}): Promise<{ items: AuditRecord[] }> {
    return this.request('GET', '/v1/audit', { query });
  }

  getPriceBook(): Promise<{ book: PriceBook; updatedAt: number }> {
    return this.request('GET', '/v1/pricing');
  }

  setPriceBook(book: unknown): Promise<{ book: PriceBook; updatedAt: number }> {
    return this.request('PUT', '/v1/pricing', { body: book });
  }

  listPolicies(): Promise<Listing<PolicyRecord>> {
    return this.request('GET', '/v1/policies');
  }

  getPolicy(name: string): Promise<PolicyRecord> {
    return this.request('GET', `/v1/policies/${encodeURIComponent(name)}`);
  }

  /** Creates or replaces the policy `name`; with dryRun, only reports what it would block. */
  applyPolicy(name: string, spec: unknown, options: { dryRun?: boolean } = {}): Promise<PolicyChangeResult> {
    const query = options.dryRun ? { dryRun: true } : {};
    return this.request('PUT', `/v1/policies/${encodeURIComponent(name)}`, { query, body: spec });
  }

  deletePolicy(name: string): Promise<PolicyChangeResult> {
    return this.request('DELETE', `/v1/policies/${encodeURIComponent(name)}`);
  }

  /** `newest`: the last `limit` events (after `after`) rather than the first. */
  listEvents(query: { after?: number; job?: string; limit?: number; newest?: boolean } = {}): Promise<{ items: EventRecord[]; head: number }> {
    return this.request('GET', '/v1/events', { query });
  }

  /** The event log from `after`, then live, as server-sent events. */
  async *followEvents(query: { after?: number; job?: string } = {}, signal?: AbortSignal): AsyncGenerator<SseMessage> {
    yield* this.stream('/v1/events', { ...query, follow: true }, signal);
  }

  jobSchema(): Promise<Record<string, unknown>> {
    return this.request('GET', '/v1/schema/job');
  }

  private url(path: string, query: Query = {}): URL {
    const url = new URL(path, this.options.server);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  private async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(this.url(path, options.query), {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      throw new ApiError(0, 'unavailable', `cannot reach the control plane at ${this.options.server}: ${describeFetchError(error)}`);
    }
    const text = await response.text();
    const body: unknown = text === '' ? undefined : safeJson(text);
    if (!response.ok) throw errorFrom(response.status, body, text);
    return body as T;
  }

  private async *stream(path: string, query: Query, signal?: AbortSignal): AsyncGenerator<SseMessage> {
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(this.url(path, query), {
        headers: { authorization: `Bearer ${this.options.token}`, accept: 'text/event-stream' },
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new ApiError(0, 'unavailable', `cannot reach the control plane at ${this.options.server}: ${describeFetchError(error)}`);
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw errorFrom(response.status, safeJson(text), text);
    }
    yield* readSse(response.body);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML error page, say): the caller reports the raw text instead.
    return undefined;
  }
}

function errorFrom(status: number, body: unknown, text: string): ApiError {
  const error = (body as { error?: { code?: string; message?: string; problems?: ApiProblem[] } } | undefined)?.error;
  return new ApiError(status, error?.code ?? 'http_error', error?.message ?? `HTTP ${status}: ${text.slice(0, 200)}`, error?.problems ?? []);
}

/** TLS verification failures, as Node names them: the server's certificate is not from the CA we trust. */
const UNTRUSTED_CERT_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']);

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code !== undefined && UNTRUSTED_CERT_CODES.has(cause.code)) {
    return `the server's TLS certificate is not trusted (${cause.code}): it is not signed by the cluster CA given (--ca, ATOLL_CA or .atoll/ca.crt), or it does not name this address; check you reach the right server and pass its ca.crt`;
  }
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
