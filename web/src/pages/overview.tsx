import type { PageProps } from '../app';
import { ago } from '../format';
import { useLive, useLiveData } from '../live';
import { FleetMap } from '../map/fleet-map';
import { Counts, ErrorNote, Loading, Section } from '../parts/bits';
import { EventList } from '../parts/event-list';
import { href } from '../router';

const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export function OverviewPage({ client }: PageProps) {
  const fleet = useLiveData(() => client.fleetSummary(), [client]);
  // Totals by state from the server (a listing of one job each), never the whole job list.
  const jobs = useLiveData(async () => {
    const [newest, ...byState] = await Promise.all([client.listJobs({ limit: 1 }), ...JOB_STATES.map((state) => client.listJobs({ state, limit: 1 }))]);
    return { total: newest!.total, newest: newest!.items[0], byState: JOB_STATES.map((state, i) => [state, byState[i]!.total] as const).filter(([, n]) => n > 0) };
  }, [client]);
  const { recent } = useLive();
  const summary = fleet.data;
  return (
    <div className="overview">
      <h1>Overview</h1>
      <ErrorNote error={fleet.error ?? jobs.error} />
      <Section title="Fleet map">
        {summary ? <FleetMap fleet={summary} /> : <Loading what="the fleet" />}
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
