// Horizontal bars, largest first: readable at any width, and a plain list to a screen reader.

export function BarChart({ rows, label, empty, max = 12 }: { rows: readonly { key: string; value: number; note: string }[]; label: string; empty: string; max?: number }) {
  const sorted = [...rows].sort((a, b) => b.value - a.value);
  const shown = sorted.slice(0, max);
  const top = Math.max(...shown.map((r) => r.value), 0);
  if (shown.length === 0 || top === 0) return <p className="muted">{empty}</p>;
  return (
    <ul className="bars" aria-label={label}>
      {shown.map((r) => (
        <li key={r.key}>
          <span className="bar-label" title={r.key}>{r.key}</span>
          <span className="bar-track" aria-hidden="true"><span className="bar" style={{ width: `${(r.value / top) * 100}%` }} /></span>
          <span className="bar-value">{r.note}</span>
        </li>
      ))}
      {sorted.length > max && <li className="muted">and {sorted.length - max} more</li>}
    </ul>
  );
}
