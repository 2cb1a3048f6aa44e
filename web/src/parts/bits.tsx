import type { ReactNode } from 'react';

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}

export function Loading({ what }: { what: string }) {
  return <p role="status" className="muted">Loading {what}…</p>;
}

export function ErrorNote({ error }: { error: string | undefined }) {
  return error === undefined ? null : <p className="error" role="alert">{error}</p>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={id} className="panel">
      <div className="panel-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Label and count pairs as a compact list. */
export function Counts({ label, counts }: { label: string; counts: readonly (readonly [string, number])[] }) {
  return (
    <dl className="counts" aria-label={label}>
      {counts.map(([key, n]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{n}</dd>
        </div>
      ))}
    </dl>
  );
}
