import { useState } from 'react';
import type { JobView } from '../../../src/core/types';
import type { PageProps } from '../app';
import { ago } from '../format';
import { useLiveData } from '../live';
import { ErrorNote, Loading, StateBadge } from '../parts/bits';
import { VirtualTable, type Column } from '../parts/virtual-table';
import { href } from '../router';

const PAGE = 500;
const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;

const columns: Column<JobView>[] = [
  { header: 'Job', width: 'minmax(8rem, 2fr)', cell: (j) => <a href={href('job', j.id)}>{j.name}</a> },
  { header: 'Id', width: '2fr', hideBelow: 1000, cell: (j) => <code>{j.id}</code> },
  { header: 'State', width: '7rem', cell: (j) => <StateBadge state={j.state} /> },
  { header: 'Namespace', width: '8rem', hideBelow: 800, cell: (j) => j.namespace },
  { header: 'Tasks', width: '10rem', cell: (j) => `${j.counts.succeeded}/${j.taskCount} done${j.counts.failed > 0 ? `, ${j.counts.failed} failed` : ''}` },
  { header: 'Created', width: '7rem', cell: (j) => ago(j.createdAt) },
];

export function JobsPage({ client }: PageProps) {
  const [state, setState] = useState('');
  const [page, setPage] = useState(0);
  const jobs = useLiveData(() => client.listJobs({ limit: PAGE, offset: page * PAGE, ...(state ? { state } : {}) }), [client, state, page], 1000);
  const total = jobs.data?.total ?? 0;
  return (
    <div>
      <h1>Jobs</h1>
      <div className="filters">
        <label>State{' '}
          <select value={state} onChange={(e) => { setState(e.target.value); setPage(0); }}>
            <option value="">any</option>
            {JOB_STATES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <span className="muted">{total} job{total === 1 ? '' : 's'}</span>
        {total > PAGE && (
          <span className="pager">
            <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Newer</button>
            <span>{page * PAGE + 1}–{Math.min(total, (page + 1) * PAGE)}</span>
            <button type="button" disabled={(page + 1) * PAGE >= total} onClick={() => setPage(page + 1)}>Older</button>
          </span>
        )}
      </div>
      <ErrorNote error={jobs.error} />
      {jobs.data ? (
        <VirtualTable rows={jobs.data.items} columns={columns} rowKey={(j) => j.id} label="Jobs"
          empty={state ? `No ${state} jobs.` : <>No jobs yet. Submit one with <code>atoll run examples/jobs/hello.yaml</code>.</>} />
      ) : <Loading what="jobs" />}
    </div>
  );
}
