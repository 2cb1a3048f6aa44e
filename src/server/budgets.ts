import type { Clock } from '../core/clock.js';
import { budgetState, describeBudget, monthOf, type BudgetStatus } from '../core/budget.js';
import { AtollError } from '../core/errors.js';
import { bindsNamespace } from '../core/policy-spec.js';
import type { Store } from '../store/store.js';
import type { SpendReports } from './spend-reports.js';
import type { HotState } from './state/hot-state.js';
import type { StateMachine } from './state/state-machine.js';

// Budgets from cluster policies: each bound namespace may spend `monthly` dollars per calendar
// month (UTC). At 80% new work gets a warning and the namespace a `budget.warning` event; at
// 100% (`budget.exceeded`) new jobs are refused with the budget named, or, for a budget that
// queues, accepted and held until the month ends or the budget is raised. Running work is never
// stopped: a budget decides what starts, not what is killed.

export class Budgets {
  /** What was last announced per namespace and month, so each crossing is one event. */
  private readonly announced = new Map<string, 'warning' | 'exceeded'>();

  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly store: Store,
    private readonly spend: SpendReports,
    private readonly clock: Clock,
  ) {}

  /** The namespace's budget and spend this month, or undefined when no policy budgets it. */
  async status(namespace: string): Promise<BudgetStatus | undefined> {
    let rule: { policy: string; monthly: number; whenExceeded: 'refuse' | 'queue' } | undefined;
    for (const { name, spec } of this.hot.policies.values()) {
      if (spec.budget === undefined || !bindsNamespace(spec, namespace)) continue;
      if (rule === undefined || spec.budget.monthly < rule.monthly) rule = { policy: name, ...spec.budget };
    }
    if (rule === undefined) return undefined;
    const month = monthOf(this.clock.now());
    const spent = (await this.spend.report({ since: month.start, namespace })).total.total;
    const share = spent / rule.monthly;
    return { namespace, policy: rule.policy, monthly: rule.monthly, whenExceeded: rule.whenExceeded, spent, share, state: budgetState(share), month: month.name, resetsAt: month.end };
  }

  /** Every budgeted namespace that is named by a policy or has spent this month. */
  async list(): Promise<BudgetStatus[]> {
    const names = new Set<string>();
    let global = false;
    for (const { spec } of this.hot.policies.values()) {
      if (spec.budget === undefined) continue;
      if (spec.namespaces === undefined) global = true;
      else for (const ns of spec.namespaces) names.add(ns);
    }
    if (global) {
      const spent = await this.store.sumSpend({ since: monthOf(this.clock.now()).start }, 'namespace');
      for (const row of spent) names.add(row.key);
      for (const live of this.hot.jobs.values()) names.add(live.record.namespace);
    }
    const statuses = await Promise.all([...names].sort().map((ns) => this.status(ns)));
    return statuses.filter((s): s is BudgetStatus => s !== undefined);
  }

  /**
   * Before a job of `namespace` is accepted: refuses it when the budget is spent and refuses, and
   * otherwise says what to tell its submitter and which budget policy holds it back (one that
   * queues, when spent). Crossing 80% or 100% is announced once a month.
   */
  async admit(namespace: string): Promise<{ readonly warnings: string[]; readonly heldBy: string | null }> {
    const status = await this.status(namespace);
    if (status === undefined || status.state === 'ok') return { warnings: [], heldBy: null };
    this.announce(status);
    const message = describeBudget(status);
    const until = `until ${new Date(status.resetsAt).toISOString()} or until the budget is raised (running work carries on)`;
    if (status.state === 'warning') return { warnings: [`${message}; at 100% new jobs will be ${status.whenExceeded === 'queue' ? 'held' : 'refused'}`], heldBy: null };
    if (status.whenExceeded === 'refuse') throw new AtollError('forbidden', `${message}; new jobs are refused ${until}`);
    return { warnings: [`${message}; the job is accepted but held ${until}`], heldBy: status.policy };
  }

  /** Releases held jobs whose namespace has budget again (a new month, a raised or removed budget). */
  async releaseHeld(): Promise<number> {
    const held = [...this.hot.jobs.values()].filter((live) => live.record.heldBy !== null);
    let released = 0;
    for (const namespace of new Set(held.map((live) => live.record.namespace))) {
      const status = await this.status(namespace);
      // Still over budget: held, whatever the strictest budget now says about new jobs.
      if (status !== undefined && status.state === 'exceeded') continue;
      const why = status === undefined ? 'no budget binds the namespace any more' : `the namespace has budget again (${describeBudget(status)})`;
      for (const live of held) {
        // Looked up again: the job may have been cancelled or released while this awaited.
        if (live.record.namespace === namespace && this.hot.jobs.get(live.record.id) === live && live.record.heldBy !== null) {
          this.sm.releaseJob(live, why);
          released += 1;
        }
      }
    }
    return released;
  }

  private announce(status: BudgetStatus): void {
    if (status.state === 'ok') return;
    const key = `${status.namespace}\u0000${status.month}`;
    const previous = this.announced.get(key);
    if (previous === status.state || (previous === 'exceeded' && status.state === 'warning')) return;
    this.announced.set(key, status.state);
    const { namespace, policy, monthly, spent, share, month } = status;
    this.sm.noteBudget(status.state, { namespace, policy, monthly, spent, share, month });
  }
}
