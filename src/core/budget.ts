// A namespace's monthly budget and where its spend stands against it.

/** At this share of the budget a namespace gets a warning. */
export const BUDGET_WARNING_SHARE = 0.8;

export type BudgetState = 'ok' | 'warning' | 'exceeded';

export interface BudgetStatus {
  readonly namespace: string;
  /** The policy that sets it (the strictest, when several bind the namespace). */
  readonly policy: string;
  readonly monthly: number;
  readonly whenExceeded: 'refuse' | 'queue';
  /** Spent this calendar month (UTC), running attempts' accrued compute included. */
  readonly spent: number;
  readonly share: number;
  readonly state: BudgetState;
  /** `YYYY-MM` */
  readonly month: string;
  /** When the month ends and the budget starts again (epoch ms). */
  readonly resetsAt: number;
}

export function budgetState(share: number): BudgetState {
  return share >= 1 ? 'exceeded' : share >= BUDGET_WARNING_SHARE ? 'warning' : 'ok';
}

/** The calendar month (UTC) `time` falls in: its name, start and end. */
export function monthOf(time: number): { readonly name: string; readonly start: number; readonly end: number } {
  const date = new Date(time);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  return { name: `${year}-${String(month + 1).padStart(2, '0')}`, start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}

/** What a budget status says to someone submitting work. */
export function describeBudget(status: BudgetStatus): string {
  const spent = `$${status.spent.toFixed(2)} of its $${status.monthly.toFixed(2)} monthly budget (${Math.floor(status.share * 100)}%, policy ${status.policy})`;
  return `namespace ${status.namespace} has spent ${spent} in ${status.month}`;
}
