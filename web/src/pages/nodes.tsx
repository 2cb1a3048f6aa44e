import { useEffect, useState } from 'react';
import type { NodeView } from '../../../src/core/types';
import type { PageProps } from '../app';
import { ago, cores, dollars } from '../format';
import { ErrorNote, Loading, StateBadge } from '../parts/bits';
import { usePagedRows } from '../parts/paged-rows';
import { VirtualTable, type Column } from '../parts/virtual-table';

const STATES = ['ready', 'unreachable', 'down', 'draining', 'cordoned', 'left'] as const;

export function NodesPage({ client, me }: PageProps) {
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [state, setState] = useState('');
  const [actionError, setActionError] = useState<string | undefined>();
  const isAdmin = me?.role === 'admin' && me.namespaces === null;
  // The server filters and pages: a fleet of 10,000 nodes never comes down whole.
  useEffect(() => {
    const timer = setTimeout(() => setQ(text.trim()), 250);
    return () => clearTimeout(timer);
  }, [text]);
  const nodes = usePagedRows((offset, limit) => client.listNodes({ offset, limit, ...(q ? { q } : {}), ...(state ? { state } : {}) }), [client, q, state]);

  const act = (what: string, run: () => Promise<unknown>) => {
    setActionError(undefined);
    run().catch((error: unknown) => setActionError(`${what}: ${error instanceof Error ? error.message : String(error)}`));
  };
  const columns: Column<NodeView>[] = [
    { header: 'Name', width: 'minmax(8rem, 2fr)', cell: (n) => <span title={n.name}>{n.name}</span> },
    { header: 'State', width: '7rem', cell: (n) => <StateBadge state={n.state} /> },
    { header: 'Where', width: 'minmax(8rem, 2fr)', hideBelow: 700, cell: (n) => `${n.provider} · ${n.region}${n.site ? ` · ${n.site}` : ''}` },
    { header: 'Juris.', width: '4rem', cell: (n) => n.jurisdiction ?? '–' },
    { header: 'CPU', width: '6rem', cell: (n) => `${cores(n.usage.cpuMillis)}/${cores(n.capacity.cpuMillis)}` },
    { header: 'Tasks', width: '4rem', hideBelow: 1000, cell: (n) => String(n.usage.runningAttempts) },
    { header: '$/h', width: '5rem', hideBelow: 1000, cell: (n) => dollars(n.price.hour) },
    { header: 'Seen', width: '6rem', hideBelow: 1100, cell: (n) => ago(n.lastSeenAt) },
  ];
  if (isAdmin) {
    columns.push({
      header: 'Actions', width: '11rem', cell: (n) => (
        <span className="row-actions">
          {n.cordoned
            ? <button type="button" onClick={() => act(`uncordon ${n.name}`, () => client.uncordonNode(n.name))} aria-label={`Uncordon ${n.name}`}>Uncordon</button>
            : <button type="button" onClick={() => act(`cordon ${n.name}`, () => client.cordonNode(n.name))} aria-label={`Cordon ${n.name}`}>Cordon</button>}
          {n.state !== 'draining' && n.state !== 'left' && (
            <button type="button" onClick={() => window.confirm(`Drain ${n.name}? Its running tasks are moved elsewhere.`) && act(`drain ${n.name}`, () => client.drainNode(n.name))} aria-label={`Drain ${n.name}`}>Drain</button>
          )}
        </span>
      ),
    });
  }
  return (
    <div>
      <h1>Nodes</h1>
      <div className="filters" role="search">
        <label>Filter <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="name, provider, region, site, label" /></label>
        <label>State{' '}
          <select value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">any</option>
            {STATES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <span className="muted" aria-live="polite">{nodes.total === undefined ? '' : `${nodes.total} node${nodes.total === 1 ? '' : 's'}${q || state ? ' match' : ''}`}</span>
      </div>
      <ErrorNote error={nodes.error ?? actionError} />
      {nodes.total !== undefined ? (
        <VirtualTable rows={{ count: nodes.total, rowAt: nodes.rowAt, onRange: nodes.onRange }} columns={columns} rowKey={(n) => n.name} label="Nodes"
          empty={q || state ? 'No node matches these filters.' : <>No node has joined yet. Start an agent with a join token (<code>atoll join-token create</code>), or run <code>npm start</code> for a local fleet.</>} />
      ) : <Loading what="nodes" />}
    </div>
  );
}
