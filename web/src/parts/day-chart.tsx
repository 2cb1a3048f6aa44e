// Spend per UTC day as columns, every day of the window shown (days without spend are empty),
// with the figures in a table for screen readers.

const DAY_MS = 86_400_000;

export function dayKeys(fromMs: number, toMs: number): string[] {
  const keys: string[] = [];
  for (let t = Math.floor(fromMs / DAY_MS) * DAY_MS; t <= toMs; t += DAY_MS) keys.push(new Date(t).toISOString().slice(0, 10));
  return keys;
}

export function DayChart({ days, values, label, format }: { days: readonly string[]; values: ReadonlyMap<string, number>; label: string; format: (n: number) => string }) {
  const top = Math.max(0, ...days.map((d) => values.get(d) ?? 0));
  if (top === 0) return <p className="muted">Nothing spent in this window.</p>;
  const width = 720;
  const height = 160;
  const step = width / days.length;
  const labelEvery = Math.ceil(days.length / 8);
  return (
    <figure className="day-chart">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`${label}: highest ${format(top)}`}>
        {days.map((d, i) => {
          const v = values.get(d) ?? 0;
          const h = (v / top) * height;
          return (
            <g key={d}>
              <rect x={i * step + 1} y={height - h} width={Math.max(1, step - 2)} height={h} className="day-bar"><title>{`${d}: ${format(v)}`}</title></rect>
              {i % labelEvery === 0 && <text x={i * step + step / 2} y={height + 14} className="day-label">{d.slice(5)}</text>}
            </g>
          );
        })}
      </svg>
      <table className="visually-hidden">
        <caption>{label}</caption>
        <tbody>{days.filter((d) => values.has(d)).map((d) => <tr key={d}><th scope="row">{d}</th><td>{format(values.get(d)!)}</td></tr>)}</tbody>
      </table>
    </figure>
  );
}
