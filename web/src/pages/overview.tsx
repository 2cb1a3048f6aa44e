import type { PageProps } from '../app';
import { ago, countBy } from '../format';
import { useLive, useLiveData } from '../live';
import { FleetMap } from '../map/fleet-map';
import { Counts, ErrorNote, Loading, Section } from '../parts/bits';
import { EventList } from '../parts/event-list';

export function OverviewPage({ client }: PageProps) {
  const nodes = useLiveData(() => client.listNodes(), [client]);
  const jobs = useLiveData(() => client.listJobs({ limit: 200 }), [client]);
  const { recent } = useLive();
  const items = nodes.data?.items ?? [];
  return (
    <div className="overview">
      <h1>Overview</h1>
      <ErrorNote error={nodes.error ?? jobs.error} />
      <Section title="Fleet map">
        {nodes.data ? <FleetMap nodes={items} /> : <Loading what="the fleet" />}
      </Section>
      <div className="grid-3">
        <Section title="Nodes by state">
          {items.length === 0 && nodes.data ? <p className="muted">No nodes yet. Start an agent: <code>atoll agent --server URL --join-token-file FILE</code>, or <code>npm start</code> for a local fleet.</p>
            : <Counts label="nodes by state" counts={countBy(items, (n) => n.state)} />}
        </Section>
        <Section title="By provider">
          <Counts label="nodes by provider" counts={countBy(items, (n) => n.provider)} />
        </Section>
        <Section title="By region">
          <Counts label="nodes by region" counts={countBy(items, (n) => n.region).slice(0, 12)} />
        </Section>
      </div>
      <div className="grid-2">
        <Section title="Jobs">
          {jobs.data && jobs.data.total === 0 ? <p className="muted">No jobs yet. Run one: <code>atoll run examples/jobs/hello.yaml</code>.</p>
            : <Counts label="jobs by state" counts={countBy(jobs.data?.items ?? [], (j) => j.state)} />}
          {jobs.data && jobs.data.items[0] && <p className="muted">Newest: <a href={`#/job/${encodeURIComponent(jobs.data.items[0].id)}`}>{jobs.data.items[0].name}</a> ({ago(jobs.data.items[0].createdAt)})</p>}
        </Section>
        <Section title="Recent events">
          <EventList events={recent.slice(0, 12)} />
        </Section>
      </div>
    </div>
  );
}
