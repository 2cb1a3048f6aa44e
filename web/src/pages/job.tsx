import type { PageProps } from '../app';
import { ago, dollars, bytes } from '../format';
import { useLiveData } from '../live';
import { ErrorNote, Loading, Section, StateBadge } from '../parts/bits';
import { StageDag } from '../parts/stage-dag';
import { TaskGrid } from '../parts/task-grid';
import { TaskPanel } from '../parts/task-panel';
import { href } from '../router';

export function JobPage({ client, jobId, taskId }: PageProps & { jobId: string; taskId: string | undefined }) {
  const job = useLiveData(() => client.getJob(jobId), [client, jobId]);
  const states = useLiveData(() => client.taskStates(jobId), [client, jobId], 1500);
  if (job.error && !job.data) return <><h1>Job {jobId}</h1><ErrorNote error={job.error} /><p><a href={href('jobs')}>All jobs</a></p></>;
  if (!job.data) return <Loading what={`job ${jobId}`} />;
  const j = job.data;
  return (
    <div>
      <p><a href={href('jobs')}>← All jobs</a></p>
      <h1>{j.name} <StateBadge state={j.state} /></h1>
      <p className="muted"><code>{j.id}</code> · namespace {j.namespace} · created {ago(j.createdAt)}{j.reason ? ` · ${j.reason}` : ''}</p>
      <div className="grid-2">
        <Section title="Progress">
          <dl className="counts">
            {Object.entries(j.counts).map(([state, n]) => <div key={state}><dt>{state}</dt><dd>{n}</dd></div>)}
          </dl>
        </Section>
        <Section title="Cost">
          {j.cost ? (
            <dl className="counts">
              <div><dt>total</dt><dd>{dollars(j.cost.total)}</dd></div>
              <div><dt>compute</dt><dd>{dollars(j.cost.compute)}</dd></div>
              <div><dt>transfer</dt><dd>{dollars(j.cost.transfer)} ({bytes(j.cost.transferBytes)})</dd></div>
              <div><dt>waste</dt><dd>{dollars(j.cost.waste)}</dd></div>
              {j.cost.running > 0 && <div><dt>running now</dt><dd>{dollars(j.cost.running)}</dd></div>}
            </dl>
          ) : <p className="muted">No cost recorded yet.</p>}
        </Section>
      </div>
      <Section title="Stages">
        <StageDag stages={j.stages} />
      </Section>
      <Section title="Tasks">
        <ErrorNote error={states.error} />
        {states.data ? <TaskGrid jobId={j.id} states={states.data.states} selected={taskId} /> : <Loading what="task states" />}
      </Section>
      {taskId && <TaskPanel client={client} taskId={taskId} />}
    </div>
  );
}
