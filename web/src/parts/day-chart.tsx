import { DAY_MS, utcDay } from '../../../src/core/spend';

// Spend per UTC day as columns, every day of the window shown (days without spend are empty),
// stacked by group (provider, region, ...) when the rows carry one, with the figures in a table
// for screen readers.

/** Groups drawn in their own colour; the rest are summed as "other". */
const MAX_SERIES = 6;

export function dayKeys(fromMs: number, toMs: number): string[] {
  const keys: string[] = [];
  for (let t = Math.floor(fromMs / DAY_MS) * DAY_MS; t <= toMs; t += DAY_MS) keys.push(utcDay(t));
  return keys;
}

export interface DayValue {
  readonly day: string;
  /** The group (provider, region, ...); '' when not split. */
  readonly key: string;
  readonly value: number;
}

/** The biggest groups over the window, then "other" for the rest. */
export function seriesOf(values: readonly DayValue[]): { names: string[]; byDay: Map<string, number[]> } {
  const totals = new Map<string, number>();
  for (const v of values) totals.set(v.key, (totals.get(v.key) ?? 0) + v.value);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  const names = ranked.length > MAX_SERIES ? [...ranked.slice(0, MAX_SERIES - 1), 'other'] : ranked;
  const index = new Map(names.map((n, i) => [n, i]));
  const byDay = new Map<string, number[]>();
  for (const v of values) {
    const row = byDay.get(v.day) ?? names.map(() => 0);
    const i = index.get(v.key) ?? names.length - 1;
    row[i]! += v.value;
    byDay.set(v.day, row);
  }
  return { names, byDay };
}

export function DayChart({ days, values, label, format }: { days: readonly string[]; values: readonly DayValue[]; label: string; format: (n: number) => string }) {
  const { names, byDay } = seriesOf(values);
  const dayTotal = (d: string) => (byDay.get(d) ?? []).reduce((a, b) => a + b, 0);
  const top = Math.max(0, ...days.map(dayTotal));
  if (top === 0) return <p className="muted">Nothing spent in this window.</p>;
  const width = 720;
  const height = 160;
  const step = width / days.length;
  const labelEvery = Math.ceil(days.length / 8);
  const split = names.length > 1 || (names.length === 1 && names[0] !== '');
  return (
    <figure className="day-chart">
      {split && (
        <ul className="legend" aria-hidden="true">
          {names.map((n, i) => <li key={n}><span className={`swatch series-${i}`} />{n || '(none)'}</li>)}
        </ul>
      )}
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`${label}: highest day ${format(top)}`}>
        {days.map((d, i) => {
          let y = height;
          return (
            <g key={d}>
              {(byDay.get(d) ?? []).map((v, s) => {
                const h = (v / top) * height;
                y -= h;
                return v > 0 && <rect key={s} x={i * step + 1} y={y} width={Math.max(1, step - 2)} height={h} className={`day-bar series-${s}`}><title>{`${d} ${names[s] || ''}: ${format(v)}`}</title></rect>;
              })}
              {i % labelEvery === 0 && <text x={i * step + step / 2} y={height + 14} className="day-label">{d.slice(5)}</text>}
            </g>
          );
        })}
      </svg>
      <table className="visually-hidden">
        <caption>{label}</caption>
        <tbody>
          {days.filter((d) => byDay.has(d)).map((d) => (
            <tr key={d}><th scope="row">{d}</th><td>{names.map((n, s) => `${n ? `${n} ` : ''}${format(byDay.get(d)![s]!)}`).join(', ')}</td></tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
