import { useMemo } from 'react';
import type { EventRecord } from '../../../src/core/types';
import type { PageProps } from '../app';
import { ago } from '../format';
import { useLive, useLiveData } from '../live';
import { FleetMap, type SiteLink } from '../map/fleet-map';
import { Counts, ErrorNote, Loading, Section } from '../parts/bits';
import { EventList } from '../parts/event-list';
import { href } from '../router';

const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
/** Transfers drawn on the map: those of the last ten minutes. */
const LINK_WINDOW_MS = 10 * 60_000;

type Where = { provider?: string; region?: string; site?: string } | undefined;

/** Recent transfer events summed by (from site, to site), keyed as the fleet summary keys sites. */
export function siteLinks(events: readonly EventRecord[], since: number): SiteLink[] {
  const key = (w: Where) => (w?.provider === undefined ? undefined : `${w.provider}/${w.region ?? ''}/${w.site ?? ''}`);
  const links = new Map<string, { from: string; to: string; transfers: number; bytes: number }>();
  for (const e of events) {
    if (e.time < since) continue;
    const from = key(e.data['from'] as Where);
    const to = key(e.data['to'] as Where);
    if (from === undefined || to === undefined || from === to) continue;
    const link = links.get(`${from}>${to}`) ?? { from, to, transfers: 0, bytes: 0 };
    links.set(`${from}>${to}`, { ...link, transfers: link.transfers + 1, bytes: link.bytes + Number(e.data['bytes'] ?? 0) });
  }
  return [...links.values()];
}

export function OverviewPage({ client }: PageProps) {
  const fleet = useLiveData(() => client.fleetSummary(), [client]);
  // Totals by state from the server (a listing of one job each), never the whole job list.
  const jobs = useLiveData(async () => {
    const [newest, ...byState] = await Promise.all([client.listJobs({ limit: 1 }), ...JOB_STATES.map((state) => client.listJobs({ state, limit: 1 }))]);
    return { total: newest!.total, newest: newest!.items[0], byState: JOB_STATES.map((state, i) => [state, byState[i]!.total] as const).filter(([, n]) => n > 0) };
  }, [client]);
  const { recent, transfers } = useLive();
  const links = useMemo(() => siteLinks(transfers, Date.now() - LINK_WINDOW_MS), [transfers]);
  const summary = fleet.data;
  return (
    <div className="overview">
      <h1>Overview</h1>
      <ErrorNote error={fleet.error ?? jobs.error} />
      <Section title="Fleet map">
        {summary ? <FleetMap fleet={summary} links={links} /> : <Loading what="the fleet" />}
      </Section>
      <div className="grid-3">
        <Section title="Nodes by state">
          {summary?.nodes === 0 ? <p className="muted">No nodes yet. Start an agent: <code>atoll agent --server URL --join-token-file FILE</code>, or <code>npm start</code> for a local fleet.</p>
            : <Counts label="nodes by state" counts={summary?.byState ?? []} />}
        </Section>
        <Section title="By provider">
          <Counts label="nodes by provider" counts={summary?.byProvider.slice(0, 12) ?? []} />
        </Section>
        <Section title="By region">
          <Counts label="nodes by region" counts={summary?.byRegion.slice(0, 12) ?? []} />
        </Section>
      </div>
      <div className="grid-2">
        <Section title="Jobs">
          {jobs.data && jobs.data.total === 0 ? <p className="muted">No jobs yet. Run one: <code>atoll run examples/jobs/hello.yaml</code>.</p>
            : <Counts label="jobs by state" counts={jobs.data?.byState ?? []} />}
          {jobs.data?.newest && <p className="muted">Newest: <a href={href('job', jobs.data.newest.id)}>{jobs.data.newest.name}</a> ({ago(jobs.data.newest.createdAt)})</p>}
        </Section>
        <Section title="Recent events">
          <EventList events={recent.slice(0, 12)} />
        </Section>
      </div>
    </div>
  );
}
