import { useState } from 'react';
import type { PageProps } from '../app';
import { dollars, bytes } from '../format';
import { useLiveData } from '../live';
import { ErrorNote, Loading, Section } from '../parts/bits';
import { DAY_MS } from '../../../src/core/spend';
import { BarChart } from '../parts/bar-chart';
import { DayChart, dayKeys } from '../parts/day-chart';

const GROUPS = ['provider', 'region', 'namespace', 'job'] as const;
const WINDOWS = [['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['30d', 'last 30 days'], ['', 'all time']] as const;
/** How far back each window reaches; "all time" charts the last 90 days. */
const WINDOW_MS: Readonly<Record<string, number>> = { '24h': DAY_MS, '7d': 7 * DAY_MS, '30d': 30 * DAY_MS, '': 90 * DAY_MS };

export function SpendPage({ client, me }: PageProps) {
  const [since, setSince] = useState<string>('7d');
  // A token for several namespaces must name one (the API will not sum across them for it).
  const choices = me?.namespaces && me.namespaces.length > 1 ? me.namespaces : null;
  const [picked, setPicked] = useState<string | null>(null);
  const namespace = choices === null ? undefined : (picked ?? choices[0]);
  const scope = namespace === undefined ? {} : { namespace };
  const reports = useLiveData(() => Promise.all(GROUPS.map((by) => client.spend({ by, ...scope, ...(since ? { since } : {}) }))), [client, since, namespace], 2000);
  const budgets = useLiveData(() => client.listBudgets(), [client], 2000);
  // Over time: by UTC day, split by a group if one is picked; "all time" shows the last 90 days.
  const [split, setSplit] = useState<'' | (typeof GROUPS)[number]>('provider');
  const daily = useLiveData(() => (split === ''
    ? client.spend({ by: 'day', ...scope, since: since || '90d' }).then((r) => r.rows.map((row) => ({ day: row.key, key: '', value: row.total })))
    : client.spend({ by: split, per: 'day', ...scope, since: since || '90d' }).then((r) => r.rows.map((row) => ({ day: row.day ?? '', key: row.key, value: row.total })))), [client, since, split, namespace], 2000);
  const now = Date.now();
  // Every UTC day the window touches (the last 24 hours span two of them).
  const days = dayKeys(now - WINDOW_MS[since]!, now);
  const total = reports.data?.[0]?.total;
  return (
    <div>
      <h1>Spend</h1>
      <div className="filters">
        <label>Window{' '}
          <select value={since} onChange={(e) => setSince(e.target.value)}>
            {WINDOWS.map(([value, label]) => <option key={label} value={value}>{label}</option>)}
          </select>
        </label>
        {choices && (
          <label>Namespace{' '}
            <select value={namespace} onChange={(e) => setPicked(e.target.value)}>
              {choices.map((ns) => <option key={ns} value={ns}>{ns}</option>)}
            </select>
          </label>
        )}
        {total && <span><strong>{dollars(total.total)}</strong> · compute {dollars(total.compute)} · transfer {dollars(total.transfer)} ({bytes(total.transferBytes)}) · waste {dollars(total.waste)}{total.running > 0 ? ` · running now ${dollars(total.running)}` : ''}</span>}
      </div>
      <ErrorNote error={reports.error ?? budgets.error} />
      <Section title="Over time" actions={
        <label>By{' '}
          <select value={split} onChange={(e) => setSplit(e.target.value as typeof split)}>
            <option value="">total</option>
            {GROUPS.map((g) => <option key={g} value={g}>{g}</option>)}
          </select>
        </label>
      }>
        {daily.data ? <DayChart days={days} values={daily.data} label={`spend per day (UTC)${split ? ` by ${split}` : ''}`} format={dollars} /> : <Loading what="daily spend" />}
      </Section>
      <Section title="Budgets">
        {!budgets.data ? <Loading what="budgets" /> : budgets.data.items.length === 0 ? <p className="muted">No budgets. A policy sets one: <code>budget: {'{'} monthly: 500, whenExceeded: queue {'}'}</code>.</p> : (
          <ul className="budgets">
            {budgets.data.items.map((b) => (
              <li key={b.namespace} className={`budget budget-${b.state}`}>
                <strong>{b.namespace}</strong>: {dollars(b.spent)} of {dollars(b.monthly)} in {b.month} ({Math.round(b.share * 100)}%, {b.state}; then {b.whenExceeded}; policy {b.policy})
                <meter min={0} max={1} low={0.8} high={0.99} optimum={0} value={Math.min(1, b.share)} aria-label={`${b.namespace} budget used`} />
              </li>
            ))}
          </ul>
        )}
      </Section>
      {!reports.data ? <Loading what="spend" /> : (
        <div className="grid-2">
          {GROUPS.map((by, i) => (
            <Section key={by} title={`By ${by}`}>
              <BarChart label={`spend by ${by}`} rows={reports.data![i]!.rows.map((r) => ({ key: r.key, value: r.total, note: dollars(r.total) }))}
                empty="Nothing spent in this window." />
            </Section>
          ))}
        </div>
      )}
    </div>
  );
}
